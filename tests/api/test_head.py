"""Every GET route answers HEAD with GET's status and header fields and no content (RFC 9110
§9.3.2), in every dialect and for errors too, and `Allow`/OPTIONS list HEAD wherever GET is.

Observed: only /health/live and /health/ready answered HEAD; /metrics, /docs, the OpenAPI
documents, every API GET (v1, Twilio, Swisscom) and the console answered 405, which an
uptime monitor or a load balancer probing with HEAD reads as "down".

The two GETs that change state answer HEAD with 405 instead (HEAD is safe, §9.2.1): the
Swisscom token check (it counts an attempt and approves) and the console's one-time
sign-in link (it is used up)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.test_dialect_errors import (
    DOCUMENTED,
    SETTINGS,
    SWISSCOM_HEADERS,
    TWILIO_AUTH,
    _concrete,
    assert_swisscom,
)
from tests.conftest import API_KEY, config
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

BEARER = {"Authorization": f"Bearer {API_KEY}"}
SWISSCOM_CHECK = "/messaging/tokenvalidation/{msisdn}/{token}"
NOT_SAFE = {SWISSCOM_CHECK}
# GET routes outside the OpenAPI document: the reference itself and its files.
UNDOCUMENTED = [
    "/docs",
    "/openapi.json",
    "/openapi.yaml",
    "/docs/openapi.json",
    "/docs/assets/swagger-ui.css",
    "/docs/assets/favicon-32x32.png",
]
VARYING = {"date", "content-length"}  # content-length is compared where the body is stable


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS)) as c:
        yield c


def _auth(path: str) -> dict[str, str]:
    if path.startswith("/v2"):
        return TWILIO_AUTH
    if path.startswith("/messaging"):
        return SWISSCOM_HEADERS
    return BEARER


def assert_head_like_get(client: TestClient[Any], url: str, headers: dict[str, str]) -> int:
    headers = {**headers, "X-Request-ID": "req-head"}
    get = client.get(url, headers=headers)
    head = client.head(url, headers=headers)
    assert head.status_code == get.status_code, (url, head.status_code, get.status_code)
    assert head.content == b""
    assert {k: v for k, v in head.headers.items() if k not in VARYING} == {
        k: v for k, v in get.headers.items() if k not in VARYING
    }, url
    if url != "/metrics":  # the metrics count each request: their length moves
        assert head.headers.get("content-length") == get.headers.get("content-length"), url
    return get.status_code


GET_PATHS = sorted(p for p, methods in DOCUMENTED.items() if "GET" in methods)


@pytest.mark.parametrize("path", [p for p in GET_PATHS if p not in NOT_SAFE])
def test_every_documented_get_answers_head(client: TestClient[Any], path: str) -> None:
    url = _concrete(path)
    assert assert_head_like_get(client, url, _auth(path)) < 500
    assert assert_head_like_get(client, url, {}) < 500  # the error answers too (401, 404)


@pytest.mark.parametrize("path", UNDOCUMENTED)
def test_the_reference_and_its_files_answer_head(client: TestClient[Any], path: str) -> None:
    assert assert_head_like_get(client, path, {}) == 200


@pytest.mark.parametrize(
    "path",
    [
        "/nothing",
        "/v1/nothing",
        "/v2/Nothing",
        "/messaging/nothing",
        "/docs/nothing",
        "/docs/a/b",
        "/docs/assets/nothing.js",
    ],
)
def test_head_on_an_unknown_path_is_the_dialects_404_without_content(
    client: TestClient[Any], path: str
) -> None:
    assert assert_head_like_get(client, path, _auth(path)) == 404


# `Allow` and OPTIONS list HEAD with every safe GET: tests/api/test_dialect_errors.py


@pytest.mark.parametrize("path", [p for p in sorted(DOCUMENTED) if "GET" not in DOCUMENTED[p]])
def test_head_where_there_is_no_get_is_405(client: TestClient[Any], path: str) -> None:
    allow = ", ".join(sorted(DOCUMENTED[path] | {"OPTIONS"}))
    r = client.head(_concrete(path), headers=_auth(path))
    assert (r.status_code, r.headers["allow"], r.content) == (405, allow, b"")


def test_head_does_not_run_the_swisscom_token_check(client: TestClient[Any]) -> None:
    """A HEAD (a link checker, a monitor) must not count an attempt or approve."""
    headers = {**SWISSCOM_HEADERS, "Content-Type": "application/json"}
    r = client.post(
        "/messaging/tokenvalidation",
        json={"to": "+41791239876", "text": "Code %TOKEN%"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = client.get("/v1/test/messages?to=%2B41791239876", headers=BEARER)
    code = "".join(c for c in r.json()["messages"][0]["text"] if c.isdigit())
    url = f"/messaging/tokenvalidation/0791239876/{code}"
    for _ in range(10):  # more than the attempt limit, had each one counted
        head = client.head(url, headers=SWISSCOM_HEADERS)
        assert (head.status_code, head.headers["allow"], head.content) == (405, "GET, OPTIONS", b"")
    assert_swisscom(client.delete(url, headers=SWISSCOM_HEADERS), 405)
    r = client.get(url, headers=SWISSCOM_HEADERS)
    assert r.json() == {"validation": "SUCCESS"}


def test_head_does_not_use_up_the_consoles_one_time_link() -> None:
    mapping = config(console={"users": []})
    app = create_app(settings_from_mapping(mapping, environ={}), console_login="once-" + "a" * 40)
    with TestClient(app) as c:
        url = "/console/login/once?token=once-" + "a" * 40
        head = c.head(url)
        assert (head.status_code, head.headers["allow"], head.content) == (405, "GET, OPTIONS", b"")
        r = c.get(url, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert c.head("/console/login").status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/v2/Services", "/docs", "/health/ready"])
def test_head_over_a_real_server_sends_headers_and_no_content(path: str) -> None:
    """On the wire (uvicorn): the head ends after the blank line, the connection stays
    usable, and Content-Length says what GET would send."""
    import socket
    from urllib.parse import urlsplit

    from tests.support.live_server import serve

    with serve(create_app(SETTINGS)) as base:
        where = urlsplit(base)
        with socket.create_connection((where.hostname, where.port), timeout=5) as sock:
            auth = TWILIO_AUTH["Authorization"]
            request = (
                f"HEAD {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
                f"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            sock.sendall(request.encode())
            data = b""
            while data.count(b"\r\n\r\n") < 2 or not data.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"content-length: " in head.lower()
    assert rest.startswith(b"HTTP/1.1 200"), rest[:200]  # the next answer, nothing between


def test_head_is_counted_as_head_on_its_route(client: TestClient[Any]) -> None:
    """The request log and the metrics say HEAD, with the route's template (not unmatched)."""
    client.head(f"/v2/Services/{_concrete('{service_sid}')}", headers=TWILIO_AUTH)
    metrics = client.get("/metrics").text
    line = 'verify_http_requests_total{method="HEAD",route="/v2/Services/{service_sid}"'
    assert line in metrics, [m for m in metrics.splitlines() if "HEAD" in m]
