"""Hostile input at the HTTP edge: oversized bodies and headers, JSON bombs, extreme
numbers, wrong content types, garbage and traversal in ids, unicode and control
characters. Each gets a clear 4xx problem document (or is accepted unchanged), never a 500."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.helpers import Api, open_api
from tests.support.live_server import serve
from verify_service.api.app import MAX_BODY_BYTES, create_app
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store

JSON = {"content-type": "application/json"}


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def raw(api: Api, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.client.post(
        "/v1/verifications", content=body, headers={**api.headers, **(headers or JSON)}
    )


async def test_body_over_16_kib_is_413(api: Api) -> None:
    padding = "x" * MAX_BODY_BYTES
    r = await raw(api, b'{"to":"+41791234567","metadata":{"a":"' + padding.encode() + b'"}}')
    assert_problem(r, 413, "payload_too_large")
    r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": padding})
    assert_problem(r, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 6000 + b"]" * 6000, "nested too deeply"),
        (b'{"to":"+41791234567","metadata":' + b'{"a":' * 2500 + b"1" + b"}" * 2501, "nested"),
        (b'{"to":"\xff\xfe"}', "UTF-8"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b"null", "object"),
        (b'{"to":"+41791234567"', "truncated"),
        (b'{"to":"+41791234567","token_length":' + b"9" * 4000 + b"}", "<= 12"),
        (b'{"to":"+41791234567","expires_in":1e999}', "out of range"),
        (b'{"to":"+41791234567","expires_in":-1}', ">= 30"),
        (b'{"to":"+41791234567","token_length":1.5}', "int"),
        (b'{"to":"+41791234567","expires_in":86401}', "<= 86400"),
        (b'{"to":"+41791234567","token_length":99}', "<= 12"),
        (b'{"to":"+41791234567","unknown":1}', "unknown field"),
        (b'{"to":123}', "str"),
    ],
)
async def test_json_bombs_and_extreme_numbers_are_400(api: Api, body: bytes, fragment: str) -> None:
    r = await raw(api, body)
    assert_problem(r, 400, "invalid_request")
    assert fragment in r.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_a_body_that_is_not_declared_json_is_415(api: Api, content_type: str) -> None:
    r = await raw(api, b'{"to":"+41791234567"}', {"content-type": content_type})
    assert_problem(r, 415, "unsupported_media_type")
    assert api.captured().messages == []


async def test_json_with_charset_or_suffix_is_accepted(api: Api) -> None:
    r = await raw(
        api, b'{"to":"+41791234567"}', {"content-type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 201
    r = await raw(api, b'{"to":"+41791234568"}', {"content-type": "application/merge+json"})
    assert r.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "/v1/verifications/..%2F..%2Fetc%2Fpasswd",
        "/v1/verifications/%2e%2e/%2e%2e/etc/passwd",
        "/v1/verifications/%00",
        "/v1/verifications/ver_%0d%0aSet-Cookie:x",
        "/v1/verifications/" + "é" * 40,
        "/v1/verifications/%ff%fe",
        "/v1/verifications/ver_" + "g" * 32,
        "/v1/verifications/ver_" + "0" * 33,
        "/v1/verifications/vs:{x}:v:ver_0",
        "/v1/verifications/*",
    ],
)
async def test_garbage_ids_are_404_or_400(api: Api, path: str) -> None:
    for r in (await api.get(path), await api.post(path + "/cancel")):
        assert r.status_code in (400, 404), r.text
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_long_id_is_400(api: Api) -> None:
    assert_problem(await api.get("/v1/verifications/" + "a" * 65), 400, "invalid_request")


async def test_ids_of_another_service_look_like_no_id_at_all(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Enumeration: another tenant's real id answers exactly like an id that never existed."""
    other = {"name": "other", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["capture"]}
    settings = make_settings(extra_services=[other])
    async with open_api(settings, store, API_KEY) as login:
        r = await login.post("/v1/verifications", {"to": "+41791234567"})
        verification_id = r.json()["id"]
        fake_id = verification_id[:-4] + ("0000" if verification_id[-4:] != "0000" else "1111")
        intruder = {"Authorization": f"Bearer {OTHER_KEY}"}
        answers = []
        for target in (verification_id, fake_id):
            for r in (
                await login.client.get(f"/v1/verifications/{target}", headers=intruder),
                await login.client.post(f"/v1/verifications/{target}/cancel", headers=intruder),
                await login.client.post(
                    "/v1/verifications/check",
                    json={"verification_id": target, "code": "123456"},
                    headers=intruder,
                ),
            ):
                answers.append((r.status_code, r.json()["code"], r.json()["detail"]))
        assert answers[:3] == answers[3:]
        assert {a[1] for a in answers} == {"verification_not_found"}
        r = await login.get(f"/v1/verifications/{verification_id}")
        assert r.json()["status"] == "pending"  # untouched by the intruder


@pytest.mark.parametrize(
    "auth",
    ["Bearer " + "k" * 12000, "Bearer \u00e9\u00e8", "Basic dXNlcjpwYXNz", "Bearer", "bearer  x "],
)
async def test_odd_authorization_headers_are_401(api: Api, auth: str) -> None:
    r = await api.client.post(
        "/v1/verifications",
        json={"to": "+41791234567"},
        headers={"Authorization": auth.encode("utf-8")},
    )
    assert_problem(r, 401, "unauthorized")


async def test_unicode_and_control_characters_in_templates(api: Api) -> None:
    # Scripts, emoji (with ZWJ) and Persian's ZWNJ go out unchanged; invisible and
    # direction-changing characters are refused (tests/api/native/test_template_characters.py).
    fancy = "Dein Code 🔐 ist: %TOKEN% — 確認コード 👩\u200d💻 می\u200cخواهم"  # noqa: RUF001
    r = await api.post("/v1/verifications", {"to": "+41791234567", "template": fancy})
    assert r.status_code == 201
    code = api.captured().messages[-1].text.split(": ")[1].split(" ")[0]
    assert api.captured().messages[-1].text == fancy.replace("%TOKEN%", code)
    for bad in ("Code:\x00%TOKEN%", "Code \x1b[31m%TOKEN%", "\x7f%TOKEN%\x08", "‮%TOKEN%"):
        r = await api.post("/v1/verifications", {"to": "+41791234568", "template": bad})
        assert_problem(r, 400, "invalid_template")
    r = await api.post("/v1/verifications", {"to": "+41791234568", "template": "no placeholder"})
    assert_problem(r, 400, "invalid_template")


async def test_unicode_and_control_characters_in_metadata_round_trip(api: Api) -> None:
    metadata = {
        "emoji": "🔐✅",
        "ctl": "\x00\x01\x1b[0m\r\n\t",
        "quote": '"}]\\',
        "lua": "'); redis.call('FLUSHALL') --",
        "ключ": "значение",
        "long": "z" * 256,
    }
    r = await api.post("/v1/verifications", {"to": "+41791234567", "metadata": metadata})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"] == metadata
    r = await api.get(f"/v1/verifications/{r.json()['id']}")
    assert r.json()["metadata"] == metadata


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(11)},
        {"k": "v" * 257},
        {"": "v"},
        {"k" * 65: "v"},
        {"k": 1},
        {"k": None},
    ],
)
async def test_metadata_limits(api: Api, metadata: object) -> None:
    r = await api.post("/v1/verifications", {"to": "+41791234567", "metadata": metadata})
    assert_problem(r, 400, "invalid_request")


async def test_codes_of_any_shape_are_checked_not_crashed_on(api: Api) -> None:
    r = await api.post("/v1/verifications", {"to": "+41791234567"})
    assert r.status_code == 201
    for code in ("\x00", "🔐" * 16, "' OR 1=1 --", "%TOKEN%", "1" * 64, " - \t\u00a0"):
        r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": code})
        assert r.status_code == 200, r.text
        assert r.json()["valid"] is False
    r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": "1" * 65})
    assert_problem(r, 400, "invalid_request")


async def test_headers_over_16_kib_are_431(api: Api) -> None:
    r = await api.post("/v1/verifications", {"to": "+41791234567"}, headers={"X-Pad": "p" * 17000})
    assert_problem(r, 431, "request_header_fields_too_large")
    many = {f"X-H{i}": "v" * 100 for i in range(200)}
    assert_problem(
        await api.client.get("/health/live", headers=many), 431, "request_header_fields_too_large"
    )
    assert api.captured().messages == []


def test_huge_headers_are_refused_under_the_real_server(
    make_settings: Callable[..., Settings],
) -> None:
    """uvicorn's default parser takes headers of any size: the app's own limit answers."""
    app = create_app(make_settings())
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/health/live", headers={"X-Pad": "p" * 4000}).status_code == 200
        try:
            r = client.get("/health/live", headers={"X-Pad": "p" * 200_000})
        except httpx.RemoteProtocolError:
            return  # a server that closes the connection refuses it too
        assert r.status_code == 431
