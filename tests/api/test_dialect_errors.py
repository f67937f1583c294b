"""Each dialect answers in its own error shape on every path under its prefix, known or not,
and `Allow` tells the truth: Twilio's `{code, message, more_info, status}` under `/v2`,
Swisscom's `{status, code, message, detail}` under `/messaging`, problem+json elsewhere.

The malformed paths and methods below are those real clients hit (issue 16) and the kinds
they stand for: a missing or extra segment, an empty segment, a bare prefix, a resource we
do not serve, a method the route does not serve, oversized headers or body."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.conftest import API_KEY, config
from verify_service.api.app import create_app
from verify_service.api.swisscom.errors import ERRORS as SWISSCOM_ERRORS
from verify_service.api.twilio.errors import MORE_INFO
from verify_service.cli import openapi_document
from verify_service.config import settings_from_mapping

SETTINGS = settings_from_mapping(config(), environ={})
SERVICE = SETTINGS.services[0]
SID = SERVICE.twilio_service_sid
VE = "VE" + "0" * 32
TWILIO_AUTH = {
    "Authorization": "Basic "
    + base64.b64encode(f"{SERVICE.twilio_account_sid}:{API_KEY}".encode()).decode()
}
SWISSCOM_HEADERS = {"client_id": API_KEY, "SCS-Version": "2", "SCS-Request-ID": "req-16"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS)) as c:
        yield c


def assert_twilio(r: Any, status: int | None = None) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert status is None or r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "more_info", "status"}, body
    assert isinstance(body["code"], int)
    assert 20000 <= body["code"] < 100000, body  # a Twilio code, not ours or an HTTP status
    assert body["status"] == r.status_code
    assert body["more_info"] == f"{MORE_INFO}{body['code']}"
    assert body["message"]
    return body


def assert_swisscom(r: Any, status: int | None = None) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert status is None or r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert set(body) == {"status", "code", "message", "detail"}, body
    assert body["status"] == str(r.status_code)
    assert (body["code"], body["message"]) == SWISSCOM_ERRORS[r.status_code]
    return body


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    return body


# --- Swisscom -----------------------------------------------------------------------------

SWISSCOM_404 = [
    "/messaging",
    "/messaging/",
    "/messaging/nothing",
    "/messaging/tokenvalidation/+41791234567",
    "/messaging/tokenvalidation/+41791234567/",
    "/messaging/tokenvalidation//123456",
    "/messaging/tokenvalidation/+41791234567/123456/extra",
    "/messaging/sms/abc",
]


@pytest.mark.parametrize("path", SWISSCOM_404)
@pytest.mark.parametrize("method", METHODS)
def test_unknown_swisscom_paths_are_swisscom_404(
    client: TestClient[Any], path: str, method: str
) -> None:
    r = client.request(method, path, headers=SWISSCOM_HEADERS)
    body = assert_swisscom(r, 404)
    assert body["code"] == "INVALID_REQUEST_RESOURCE"
    assert r.headers["SCS-Request-ID"] == "req-16"


@pytest.mark.parametrize(
    ("path", "methods", "allow"),
    [
        ("/messaging/tokenvalidation", ("GET", "PUT", "PATCH", "DELETE"), "OPTIONS, POST"),
        ("/messaging/tokenvalidation/0791234567/123456", ("POST", "PUT", "DELETE"), "GET, OPTIONS"),
    ],
)
def test_wrong_methods_on_swisscom_routes_are_swisscom_405(
    client: TestClient[Any], path: str, methods: tuple[str, ...], allow: str
) -> None:
    for method in methods:
        r = client.request(method, path, headers=SWISSCOM_HEADERS)
        assert assert_swisscom(r, 405)["code"] == "INVALID_REQUEST_METHOD"
        assert r.headers["allow"] == allow


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [  # the router reads `//` as `/` and drops a trailing `/`: these are known routes
        ("GET", "/messaging/tokenvalidation/", 405),
        ("PUT", "/messaging/tokenvalidation//0791234567//123456", 405),
        ("POST", "/messaging/tokenvalidation/", 400),  # no body: Swisscom's 400
    ],
)
def test_slash_variants_of_swisscom_routes(
    client: TestClient[Any], method: str, path: str, status: int
) -> None:
    assert_swisscom(client.request(method, path, headers=SWISSCOM_HEADERS), status)


def test_swisscom_oversized_requests_keep_swisscom_shape(client: TestClient[Any]) -> None:
    # Swisscom documents no 413 or 431: its 400 INVALID_REQUEST, with the reason in detail.
    r = client.post(
        "/messaging/tokenvalidation",
        content=b'{"to":"+41791234567","text":"' + b"x" * 20_000 + b' %TOKEN%"}',
        headers={**SWISSCOM_HEADERS, "Content-Type": "application/json"},
    )
    assert assert_swisscom(r, 400)["code"] == "INVALID_REQUEST"
    r = client.get(
        "/messaging/tokenvalidation/0791234567/123456",
        headers={**SWISSCOM_HEADERS, "X-Pad": "p" * 17_000},
    )
    assert "headers exceed" in assert_swisscom(r, 400)["detail"]


# --- Twilio -------------------------------------------------------------------------------

TWILIO_404 = [
    "/v2",
    "/v2/",
    "/v2/Attempts/Summary/extra",
    "/v2/SafeList/Numbers",
    "/v2/Forms/form-push",
    "/v2/Templates",
    f"/v2/Services/{SID}/Nothing",
    f"/v2/Services/{SID}/RateLimits",
    f"/v2/Services/{SID}/Verifications/{VE}/extra",
    f"/v2/Services/{SID}/Verifications//{VE}/x",
    "/v2/services",  # Twilio's paths are case-sensitive
]


@pytest.mark.parametrize("path", TWILIO_404)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_twilio_paths_are_20404(client: TestClient[Any], path: str, method: str) -> None:
    r = client.request(method, path, headers=TWILIO_AUTH)
    assert assert_twilio(r, 404)["code"] == 20404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/v2/Services", "GET, HEAD, OPTIONS"),
        ("PUT", "/v2/Services", "GET, HEAD, OPTIONS"),
        ("POST", f"/v2/Services/{SID}", "GET, HEAD, OPTIONS"),
        ("DELETE", f"/v2/Services/{SID}", "GET, HEAD, OPTIONS"),
        ("DELETE", f"/v2/Services/{SID}/Verifications/{VE}", "GET, HEAD, OPTIONS, POST"),
        ("PATCH", f"/v2/Services/{SID}/Verifications/{VE}", "GET, HEAD, OPTIONS, POST"),
        ("GET", f"/v2/Services/{SID}/Verifications", "OPTIONS, POST"),
        ("GET", f"/v2/Services/{SID}/VerificationCheck", "OPTIONS, POST"),
    ],
)
def test_wrong_methods_on_twilio_routes_are_20004(
    client: TestClient[Any], method: str, path: str, allow: str
) -> None:
    r = client.request(method, path, headers=TWILIO_AUTH)
    body = assert_twilio(r, 405)
    assert body["code"] == 20004
    assert r.headers["allow"] == allow
    if path.count("/") <= 3:  # the Services resource itself: say where services come from
        assert "configuration file" in body["message"]


def test_twilio_oversized_requests_are_20413(client: TestClient[Any]) -> None:
    r = client.post(
        f"/v2/Services/{SID}/Verifications",
        data={"To": "+41791234567", "Channel": "sms", "CustomFriendlyName": "x" * 20_000},
        headers=TWILIO_AUTH,
    )
    assert assert_twilio(r, 413)["code"] == 20413
    for path in (f"/v2/Services/{SID}", "/v2/Services", f"/v2/Services/{SID}/Verifications/{VE}"):
        r = client.get(path, headers={**TWILIO_AUTH, "X-Pad": "p" * 17_000})
        assert assert_twilio(r, 431)["code"] == 20413


def test_bad_list_parameters_are_named_as_twilio_spells_them(client: TestClient[Any]) -> None:
    for query, name in (
        ("PageSize=0", "PageSize"),
        ("PageSize=1001", "PageSize"),
        ("Page=-1", "Page"),
    ):
        r = client.get(f"/v2/Services?{query}", headers=TWILIO_AUTH)
        assert assert_twilio(r, 400)["message"] == f"Invalid parameter: {name}"


# --- any path, any method -----------------------------------------------------------------

SEGMENT = st.text(
    st.characters(codec="utf-8", exclude_characters="/?#", exclude_categories=("Cs", "Cc")),
    max_size=12,
).map(lambda s: quote(s, safe=""))


@given(
    prefix=st.sampled_from(
        ["/v2", "/messaging", "/messaging/tokenvalidation", "/v2/Services", "/v2/Attempts"]
    ),
    segments=st.lists(SEGMENT, max_size=4),
    method=st.sampled_from(METHODS),
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_4xx_under_a_prefix_is_in_its_dialect(
    client: TestClient[Any], prefix: str, segments: list[str], method: str
) -> None:
    path = "/".join([prefix, *segments])
    twilio = prefix.startswith("/v2")
    headers = TWILIO_AUTH if twilio else SWISSCOM_HEADERS
    r = client.request(method, path, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        (assert_twilio if twilio else assert_swisscom)(r)


def test_the_native_api_keeps_problem_json(client: TestClient[Any]) -> None:
    assert_problem(client.get("/v3/nothing"), 404)
    assert_problem(client.get("/v1/verifications/ver_x/nothing"), 404)
    assert_problem(client.delete("/v1/verifications"), 405)
    r = client.get("/health/live", headers={"X-Pad": "p" * 17_000})
    assert assert_problem(r, 431)["code"] == "request_header_fields_too_large"


# --- OPTIONS and Allow --------------------------------------------------------------------


def _concrete(path: str) -> str:
    samples = {
        "{service_sid}": SID,
        "{sid}": VE,
        "{verification_id}": "ver_" + "0" * 32,
        "{msisdn}": "0791234567",
        "{token}": "123456",
        "{provider}": "capture",
        "{secret}": "s",
    }
    for name, value in samples.items():
        path = path.replace(name, value)
    return path


DOCUMENTED = {
    path: {m.upper() for m in item}
    for path, item in yaml.safe_load(openapi_document())["paths"].items()
}


@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_options_and_405_name_exactly_the_methods_served(
    client: TestClient[Any], path: str
) -> None:
    """OPTIONS lists what the published document says a path serves (plus OPTIONS, and
    HEAD with a GET that is safe: tests/api/test_head.py), and every other method is
    refused 405 with the same `Allow`."""
    methods = DOCUMENTED[path] | {"OPTIONS"}
    if "GET" in methods and path != "/messaging/tokenvalidation/{msisdn}/{token}":
        methods.add("HEAD")
    allow = ", ".join(sorted(methods))
    url = _concrete(path)
    r = client.options(url)
    assert (r.status_code, r.headers.get("allow")) == (204, allow)
    for method in set(METHODS) - DOCUMENTED[path]:
        r = client.request(method, url)
        assert (r.status_code, r.headers.get("allow")) == (405, allow), (method, r.text)


# Credentials as raw header bytes a client or a proxy can send: not ASCII (Latin-1, UTF-8),
# control characters, not base64. Each is a wrong credential: 401 in the dialect's shape.
CREDENTIAL_BYTES = [b"\xff\xfe", "\u00e9t\u00e9".encode(), b"\x01\x7f", b"!!!", b"\xc3\xa9" * 40]


@pytest.mark.parametrize("raw", CREDENTIAL_BYTES)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/v2/Services/{SID}/Verifications"),
        ("GET", f"/v2/Services/{SID}/Verifications/{VE}"),
        ("GET", "/v2/Attempts"),
        ("GET", "/v2/Services"),
    ],
)
def test_twilio_credentials_that_are_not_ascii_are_401(
    client: TestClient[Any], method: str, path: str, raw: bytes
) -> None:
    r = client.request(method, path, headers={"Authorization": b"Basic " + raw})
    assert assert_twilio(r, 401)["code"] == 20003


@pytest.mark.parametrize("raw", CREDENTIAL_BYTES)
def test_other_dialects_credentials_that_are_not_ascii_are_401(
    client: TestClient[Any], raw: bytes
) -> None:
    r = client.get(f"/v1/verifications/ver_{'0' * 32}", headers={"Authorization": b"Bearer " + raw})
    assert assert_problem(r, 401)["code"] == "unauthorized"
    r = client.get("/v1/fraud/blocks", headers={"Authorization": b"Bearer " + raw})
    assert assert_problem(r, 401)["code"] == "unauthorized"
    headers = {**SWISSCOM_HEADERS, "client_id": raw}
    r = client.get("/messaging/tokenvalidation/0791234567/123456", headers=headers)
    assert_swisscom(r, 401)
