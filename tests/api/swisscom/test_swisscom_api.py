"""The Swisscom-compatible API (README, Swisscom): Swisscom's paths, headers, bodies, answers and
error bodies, under the policy of the service that owns `client_id`."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import API_KEY
from tests.support.helpers import Api, open_api
from tests.support.redis_server import free_port
from verify_service.api.swisscom.routes import msisdn_to_e164
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.store import Store

TO = "+41791234567"
START = "/messaging/tokenvalidation"
HEADERS = {
    "SCS-Version": "2",
    "client_id": API_KEY,
    "Content-Type": "application/json",
    "Accept": "application/json",
    "SCS-Request-ID": "req-42",
}
SEED_BODY = {
    "to": TO,
    "text": "Take this token: %TOKEN%",
    "tokenType": "SHORT_NUMERIC",
    "expireTime": 120,
    "tokenLength": 6,
}


async def start(api: Api, body: Any = None, **headers: str) -> Any:
    merged = {**HEADERS, **headers}
    return await api.client.post(
        START, json=SEED_BODY if body is None else body, headers=_clean(merged)
    )


async def validate(api: Api, msisdn: str, token: str, **headers: str) -> Any:
    merged = {k: v for k, v in {**HEADERS, **headers}.items() if k != "Content-Type"}
    return await api.client.get(f"{START}/{msisdn}/{token}", headers=_clean(merged))


def _clean(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if v != "-"}  # "-": leave the header out


def assert_swisscom_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"status", "code", "message", "detail"}
    assert body["status"] == str(status)
    assert body["code"] == code
    assert body["message"]
    return dict(body)


async def test_seed_flow_created_then_failed_then_success(api: Api) -> None:
    r = await start(api)
    assert r.status_code == 201, r.text
    assert r.content == b""
    assert r.headers["SCS-Request-ID"] == "req-42"
    text = api.last_text(TO)
    assert text.startswith("Take this token: ")
    code = api.last_code(TO)
    assert len(code) == 6
    assert code.isdigit()

    wrong = "000000" if code != "000000" else "111111"
    r = await validate(api, TO, wrong)
    assert r.status_code == 200
    assert r.json() == {"validation": "FAILED"}
    assert r.headers["SCS-Request-ID"] == "req-42"

    r = await validate(api, "0791234567", code)  # a single leading 0 is +41
    assert r.json() == {"validation": "SUCCESS"}
    r = await validate(api, TO, code)  # used
    assert r.json() == {"validation": "FAILED"}


async def test_unknown_number_is_failed(api: Api) -> None:
    r = await validate(api, "+41791112233", "123456")
    assert r.status_code == 200
    assert r.json() == {"validation": "FAILED"}


@pytest.mark.parametrize(
    ("token_type", "length", "alphabet"),
    [
        ("SHORT_ALPHANUMERIC", 8, set(string.ascii_uppercase + string.digits)),
        ("SHORT_SMALL_AND_CAPITAL", 10, set(string.ascii_letters + string.digits)),
        ("LONG_CRYPTIC", 12, set(string.ascii_letters + string.digits)),
    ],
)
async def test_token_types(api: Api, token_type: str, length: int, alphabet: set[str]) -> None:
    body = {**SEED_BODY, "tokenType": token_type, "tokenLength": 8 if length != 10 else 10}
    r = await start(api, body)
    assert r.status_code == 201, r.text
    code = api.last_code(TO)
    assert len(code) == length  # LONG_CRYPTIC ignores tokenLength: the longest allowed
    assert set(code) <= alphabet
    assert (await validate(api, TO, code)).json() == {"validation": "SUCCESS"}


async def test_bad_request_errors(api: Api) -> None:
    body = assert_swisscom_error(await start(api, {"text": "x %TOKEN%"}), 400, "INVALID_REQUEST")
    assert "to" in body["detail"]
    for bad_number in ("41791234567", "+4179", "+4179123456789012", "07912x4567"):
        r = await start(api, {**SEED_BODY, "to": bad_number})
        assert_swisscom_error(r, 400, "INVALID_REQUEST")
    r = await start(api, {**SEED_BODY, "text": "no placeholder"})
    assert "%TOKEN%" in assert_swisscom_error(r, 400, "INVALID_REQUEST")["detail"]
    r = await start(api, {**SEED_BODY, "tokenLength": 3})  # under the service's minimum
    assert_swisscom_error(r, 400, "INVALID_REQUEST")
    r = await start(api, {**SEED_BODY, "expireTime": 5})
    assert_swisscom_error(r, 400, "INVALID_REQUEST")
    r = await start(api, {**SEED_BODY, "tokenType": "EMOJI"})
    assert_swisscom_error(r, 400, "INVALID_REQUEST")
    assert_swisscom_error(await start(api, **{"SCS-Version": "-"}), 400, "INVALID_REQUEST")
    r = await api.client.post(START, content=b"{not json", headers=HEADERS)
    assert_swisscom_error(r, 400, "INVALID_REQUEST")
    assert_swisscom_error(await validate(api, "12", "123456"), 400, "INVALID_REQUEST")
    assert api.captured().messages == []


async def test_authentication_errors(api: Api) -> None:
    for client_id in ("-", "wrong-key"):
        r = await start(api, client_id=client_id)
        assert_swisscom_error(r, 401, "INVALID_AUTHENTICATION_CREDENTIALS")
        assert r.headers["SCS-Request-ID"] == "req-42"
        r = await validate(api, TO, "123456", client_id=client_id)
        assert_swisscom_error(r, 401, "INVALID_AUTHENTICATION_CREDENTIALS")
    # The native API's Bearer header is not Swisscom's credential.
    r = await start(api, client_id="-", Authorization=f"Bearer {API_KEY}")
    assert_swisscom_error(r, 401, "INVALID_AUTHENTICATION_CREDENTIALS")


async def test_method_and_resource_errors(api: Api) -> None:
    r = await api.client.put(START, json=SEED_BODY, headers=HEADERS)
    assert_swisscom_error(r, 405, "INVALID_REQUEST_METHOD")
    assert r.headers["allow"] == "OPTIONS, POST"
    r = await api.client.get(START, headers=HEADERS)
    assert_swisscom_error(r, 405, "INVALID_REQUEST_METHOD")
    r = await api.client.post(f"{START}/{TO}/123456", headers=HEADERS)
    assert_swisscom_error(r, 405, "INVALID_REQUEST_METHOD")
    assert r.headers["allow"] == "GET, OPTIONS"
    r = await api.client.get("/messaging/sms/abc", headers=HEADERS)
    assert_swisscom_error(r, 404, "INVALID_REQUEST_RESOURCE")


async def test_accept_must_allow_json(api: Api) -> None:
    r = await start(api, Accept="text/html")
    assert_swisscom_error(r, 406, "INVALID_HEADER_ACCEPT")
    r = await validate(api, TO, "123456", Accept="application/xml")
    assert_swisscom_error(r, 406, "INVALID_HEADER_ACCEPT")
    assert (await start(api, Accept="application/json; charset=utf-8")).status_code == 201
    assert (await start(api, Accept="-")).status_code == 201  # absent: JSON is the default


@pytest.fixture
async def strict_api(store: Store, make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    settings = make_settings(
        service={"resend_cooldown": 30, "max_send_attempts": 2, "allowed_countries": ["CH"]}
    )
    async with open_api(settings, store, API_KEY) as a:
        yield a


async def test_our_limits_are_swisscom_quota_errors(strict_api: Api) -> None:
    assert (await start(strict_api)).status_code == 201
    r = await start(strict_api)
    body = assert_swisscom_error(r, 429, "EXPIRED_QUOTA")
    assert 0 < int(r.headers["retry-after"]) <= 30
    assert "wait" in body["detail"]
    assert len(strict_api.captured().messages) == 1


async def test_policy_of_the_service_applies(strict_api: Api) -> None:
    r = await start(strict_api, {**SEED_BODY, "to": "+4915123456789"})
    assert_swisscom_error(r, 403, "FORBIDDEN_RESOURCE")


async def test_store_down_is_unavailable_service(make_settings: Callable[..., Settings]) -> None:
    down = Store.from_url(f"redis://127.0.0.1:{free_port()}/0")
    async with open_api(make_settings(), down, API_KEY) as api:
        r = await start(api)
    body = assert_swisscom_error(r, 503, "UNAVAILABLE_SERVICE")
    assert "store" in body["detail"]


async def test_native_api_keeps_problem_json(api: Api) -> None:
    r = await api.client.post("/v1/verifications", json={"to": TO})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unauthorized"


# --- number rules ------------------------------------------------------------------------


def test_number_rules() -> None:
    assert msisdn_to_e164("0791234567") == "+41791234567"
    assert msisdn_to_e164("0041791234567") == "+41791234567"
    assert msisdn_to_e164("+41791234567") == "+41791234567"
    assert msisdn_to_e164("00491511234567") == "+491511234567"


def outcome(raw: str) -> str | VerifyError:
    try:
        return msisdn_to_e164(raw)
    except VerifyError as exc:
        return exc


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.sampled_from(["+", "00", "0"]))
def test_number_rules_on_any_digits(rest: str, prefix: str) -> None:
    raw = prefix + rest
    digits = sum(c.isdigit() for c in raw)
    e164 = outcome(raw)
    if not 7 <= digits <= 15:
        assert isinstance(e164, VerifyError)
        assert e164.code == "invalid_phone_number"
        return
    assert isinstance(e164, str)
    assert e164.startswith("+")
    assert e164[1:].isdigit()
    if prefix == "0" and not rest.startswith("0"):
        assert e164 == "+41" + rest
    else:  # "+…", "00…" (and "0" + "0…", which is "00…")
        # "+" then the digits as they are ("+00…" keeps its zeros); "00" is the "+"
        assert e164 == "+" + (raw[1:] if prefix == "+" else raw[2:])


@given(st.text(max_size=20))
def test_number_rules_refuse_anything_else_cleanly(raw: str) -> None:
    e164 = outcome(raw)
    if isinstance(e164, VerifyError):
        assert e164.code == "invalid_phone_number"
        return
    assert e164.startswith("+")
    assert e164[1:].isascii()
    assert e164[1:].isdigit()


async def test_unexpected_failure_is_swisscom_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom 123456")

    monkeypatch.setattr(api.verifications, "start", broken)
    body = assert_swisscom_error(await start(api), 500, "INTERNAL_SERVER_ERROR")
    assert "123456" not in body["detail"]
