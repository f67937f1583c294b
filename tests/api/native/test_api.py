"""The native API over HTTP: statuses, problem documents, bad input (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.helpers import Api

TO = "+41791234567"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


async def test_fetch_and_cancel_over_http(api: Api) -> None:
    started = (await api.post("/v1/verifications", {"to": TO, "metadata": {"u": "1"}})).json()
    fetched = await api.get(f"/v1/verifications/{started['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == started
    assert "code" not in fetched.text.lower().replace("country", "")
    canceled = await api.post(f"/v1/verifications/{started['id']}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    again = await api.post(f"/v1/verifications/{started['id']}/cancel")
    body = assert_problem(again, 409, "verification_not_pending")
    assert body["verification_status"] == "canceled"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
async def test_requests_without_a_valid_key_are_unauthorized(
    api: Api, headers: dict[str, str]
) -> None:
    r = await api.client.post("/v1/verifications", json={"to": TO}, headers=headers)
    assert_problem(r, 401, "unauthorized")
    r = await api.client.get("/v1/verifications/ver_x", headers=headers)
    assert_problem(r, 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_request"),
        (b"[]", "invalid_request"),
        (b"", "invalid_request"),
        (b'{"to": 41791234567}', "invalid_request"),
        (b'{"to": "+41791234567", "unknown": 1}', "invalid_request"),
        (b"{}", "invalid_request"),
        (b'{"to": "+41791234567", "token_length": 3}', "invalid_request"),
        (b'{"to": "+41791234567", "token_length": 13}', "invalid_request"),
        (b'{"to": "+41791234567", "expires_in": 29}', "invalid_request"),
        (b'{"to": "+41791234567", "expires_in": 86401}', "invalid_request"),
        (b'{"to": "+41791234567", "token_type": "emoji"}', "invalid_request"),
        (b'{"to": "+41791234567", "channel": "voice"}', "channel_not_allowed"),
        (b'{"to": "+41791234567", "channel": "fax"}', "invalid_request"),
        (b'{"to": "+41791234567", "workflow": [{"channel": "fax"}]}', "invalid_request"),
        (b'{"to": "+41791234567", "workflow": [{"channel": "voice"}]}', "channel_not_allowed"),
        (b'{"to": "alice@example.com"}', "invalid_phone_number"),
        (b'{"to": "+41791234567", "template": "no placeholder"}', "invalid_template"),
        (b'{"to": "+41791234567", "template": "' + b"x" * 700 + b'"}', "invalid_request"),
        (b'{"to": "+41791234567", "metadata": {"a": 1}}', "invalid_request"),
        (b'{"to": "not a number"}', "invalid_phone_number"),
        (b'{"to": "+41 12"}', "invalid_phone_number"),
    ],
)
async def test_bad_start_bodies_get_a_clear_4xx(api: Api, body: bytes, code: str) -> None:
    r = await api.client.post(
        "/v1/verifications",
        content=body,
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_problem(r, 400, code)
    assert api.captured().messages == []


async def test_too_many_metadata_pairs(api: Api) -> None:
    metadata = {f"k{i}": "v" for i in range(11)}
    r = await api.post("/v1/verifications", {"to": TO, "metadata": metadata})
    assert_problem(r, 400, "invalid_request")


async def test_oversized_body_is_413(api: Api) -> None:
    r = await api.client.post(
        "/v1/verifications",
        content=b'{"to": "' + b"1" * 20_000 + b'"}',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_problem(r, 413, "payload_too_large")


@pytest.mark.parametrize(
    "body",
    [
        {"code": "123456"},
        {"to": TO},
        {"to": TO, "code": 123456},
        {"to": TO, "code": "1" * 65},
        {"to": TO, "code": "123456", "extra": True},
    ],
)
async def test_bad_check_bodies(api: Api, body: dict[str, Any]) -> None:
    r = await api.post("/v1/verifications/check", body)
    assert_problem(r, 400, "invalid_request")


async def test_check_and_fetch_of_nothing_is_404(api: Api) -> None:
    r = await api.post("/v1/verifications/check", {"to": TO, "code": "123456"})
    assert_problem(r, 404, "verification_not_found")
    r = await api.get("/v1/verifications/ver_0123456789abcdef0123456789abcdef")
    assert_problem(r, 404, "verification_not_found")
    r = await api.get("/v1/verifications/..%2F..%2Fetc%2Fpasswd")
    assert r.status_code == 404
    r = await api.post("/v1/verifications/ver_nothing/cancel")
    assert_problem(r, 404, "verification_not_found")


async def test_resend_too_soon_has_retry_after(api: Api, make_settings: Any) -> None:
    from tests.conftest import API_KEY
    from tests.support.helpers import open_api

    settings = make_settings(service={"resend_cooldown": 60})
    async with open_api(settings, api.components.store, API_KEY) as a:
        assert (await a.post("/v1/verifications", {"to": TO})).status_code == 201
        r = await a.post("/v1/verifications", {"to": TO})
        body = assert_problem(r, 429, "resend_too_soon")
        assert 58 <= int(r.headers["retry-after"]) <= 60
        assert body["retry_after"] == int(r.headers["retry-after"])


async def test_unknown_route_and_method(api: Api) -> None:
    assert_problem(await api.get("/v3/nothing"), 404, "not_found")  # /v2: Twilio's
    r = await api.client.delete("/v1/verifications/check", headers=api.headers)
    assert_problem(r, 405, "method_not_allowed")


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/v1/verifications", {"to": TO}, headers=headers)
    second = await api.post("/v1/verifications", {"to": TO}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(api.captured().sent_to(TO)) == 1
    other = await api.post("/v1/verifications", {"to": "+41791234568"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_health_and_metrics(api: Api) -> None:
    assert (await api.client.get("/health/live")).json() == {"status": "ok"}
    assert (await api.client.get("/health/ready")).json() == {"status": "ok"}
    await api.post("/v1/verifications", {"to": TO})
    code = api.last_code(TO)
    await api.post("/v1/verifications/check", {"to": TO, "code": code})
    metrics = (await api.client.get("/metrics")).text
    assert (
        'verify_verifications_total{country="CH",provider="capture",service="login",'
        'status="approved"} 1.0' in metrics
    )
    assert 'verify_checks_total{outcome="valid",service="login"} 1.0' in metrics
    assert code not in metrics.replace("_created", "")
