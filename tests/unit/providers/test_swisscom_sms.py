"""`swisscom_sms` against a local fake of Swisscom's API over loopback HTTP."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import API_KEY
from tests.support.fake_swisscom import FakeSwisscom, Fault
from tests.support.helpers import open_api
from tests.support.redis_server import free_port
from verify_service.config import Settings
from verify_service.providers.base import DeliveryReport, OutgoingMessage, ProviderError
from verify_service.providers.kinds.swisscom_sms import SwisscomSmsProvider
from verify_service.providers.registry import build_provider
from verify_service.store import Store

MESSAGE = OutgoingMessage(to="+41791234567", text="Your code is 123456", reference="ver_x.1")


@pytest.fixture
def fake() -> Iterator[FakeSwisscom]:
    server = FakeSwisscom().start()
    yield server
    server.stop()


def make(base_url: str, **options: object) -> SwisscomSmsProvider:
    config = {"kind": "swisscom_sms", "base_url": base_url, "client_id": "fake-client-id"}
    provider = build_provider("swisscom", {**config, **options})
    assert isinstance(provider, SwisscomSmsProvider)
    return provider


@pytest.fixture
async def sms(fake: FakeSwisscom) -> AsyncIterator[SwisscomSmsProvider]:
    provider = make(fake.url, sender="MyApp", callback_url="https://example.org/dlr")
    yield provider
    await provider.aclose()


async def test_request_shape_and_location_id(
    fake: FakeSwisscom, sms: SwisscomSmsProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "verify_service.providers.swisscom")
    first = await sms.send(MESSAGE)
    second = await sms.send(MESSAGE)

    assert len(fake.requests) == 2
    seen = fake.requests[0]
    assert (seen.method, seen.path) == ("POST", "/messaging/sms")
    assert seen.headers["client_id"] == "fake-client-id"
    assert seen.headers["SCS-Version"] == "2"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept"] == "application/json"
    assert seen.body == {
        "to": "+41791234567",
        "text": "Your code is 123456",
        "from": "MyApp",
        "callbackUrl": "https://example.org/dlr",
    }
    ids = [r.headers["SCS-Request-ID"] for r in fake.requests]
    assert ids[0] != ids[1]
    assert all(uuid.UUID(i) for i in ids)
    # Each request id is logged (for Swisscom support), the message text never is.
    logged = [getattr(r, "scs_request_id", None) for r in caplog.records]
    assert ids[0] in logged
    assert ids[1] in logged
    assert "123456" not in caplog.text

    assert first.message_id is not None
    assert len(first.message_id) == 32
    assert first.message_id != second.message_id
    assert fake.outbox[0] == ("+41791234567", "Your code is 123456")


async def test_minimal_body_and_scs_message_id(fake: FakeSwisscom) -> None:
    fake.id_header = "SCS-MessageId"
    provider = make(fake.url)
    try:
        result = await provider.send(MESSAGE)
    finally:
        await provider.aclose()
    assert fake.requests[0].body == {"to": "+41791234567", "text": "Your code is 123456"}
    assert result.message_id is not None
    assert len(result.message_id) == 32


@pytest.mark.parametrize(
    ("status", "retryable", "exhausted"),
    [
        (500, True, False),
        (503, True, False),
        (429, False, True),  # EXPIRED_QUOTA: not now, not soon (issue 15.8)
        (401, False, True),
        (403, False, True),
        (404, False, False),
    ],
)
async def test_error_classes(
    fake: FakeSwisscom, sms: SwisscomSmsProvider, status: int, retryable: bool, exhausted: bool
) -> None:
    fake.faults.append(Fault(status))
    with pytest.raises(ProviderError) as caught:
        await sms.send(MESSAGE)
    assert caught.value.retryable is retryable
    assert caught.value.exhausted is exhausted
    assert caught.value.recipient_invalid is False
    assert f"HTTP {status}" in caught.value.reason


async def test_quota_passes_retry_after(fake: FakeSwisscom, sms: SwisscomSmsProvider) -> None:
    fake.faults.append(Fault(429, headers={"Retry-After": "120"}))
    with pytest.raises(ProviderError) as caught:
        await sms.send(MESSAGE)
    assert caught.value.exhausted is True
    assert caught.value.retry_after == 120
    assert "EXPIRED_QUOTA" in caught.value.reason


async def test_bad_credentials_log_a_configuration_error(
    fake: FakeSwisscom, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make(fake.url, client_id="wrong")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.send(MESSAGE)
    finally:
        await provider.aclose()
    assert caught.value.retryable is False
    assert "INVALID_AUTHENTICATION_CREDENTIALS" in caught.value.reason
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        "configuration error" in r.getMessage() and "client_id" in r.getMessage() for r in errors
    )
    assert "wrong" not in caplog.text  # the client_id itself is a secret


async def test_refused_number_is_recipient_invalid(sms: SwisscomSmsProvider) -> None:
    bad = OutgoingMessage(to="+4179x", text="Your code is 1", reference="r")
    with pytest.raises(ProviderError) as caught:
        await sms.send(bad)
    assert caught.value.recipient_invalid is True
    assert caught.value.retryable is False


async def test_other_bad_request_is_permanent_not_the_number(
    fake: FakeSwisscom, sms: SwisscomSmsProvider
) -> None:
    fake.faults.append(Fault(400, "Missing text"))
    with pytest.raises(ProviderError) as caught:
        await sms.send(MESSAGE)
    assert caught.value.recipient_invalid is False
    assert caught.value.retryable is False


async def test_network_error_is_retryable() -> None:
    provider = make(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.send(MESSAGE)
    finally:
        await provider.aclose()
    assert caught.value.retryable is True


# --- delivery callbacks ------------------------------------------------------------------


def test_delivery_report_with_id_in_location() -> None:
    provider = make("http://127.0.0.1:1")
    body = json.dumps({"status": "DELIVERED", "description": "Delivered"}).encode()
    reports = provider.parse_reports(
        body, {"Location": "https://api.swisscom.com/messaging/sms/abc123"}
    )
    assert reports == [DeliveryReport("abc123", "delivered", "Delivered")]


def test_delivery_report_with_id_in_body_and_states() -> None:
    provider = make("http://127.0.0.1:1")
    body = json.dumps(
        [
            {"messageId": "m1", "status": "UNDELIVERABLE"},
            {"messageId": "m2", "status": "EXPIRED", "description": "validity expired"},
            {"messageId": "m3", "status": "SENT"},  # intermediate: not a report
        ]
    ).encode()
    reports = provider.parse_reports(body, {})
    assert reports == [
        DeliveryReport("m1", "undelivered", "UNDELIVERABLE"),
        DeliveryReport("m2", "undelivered", "validity expired"),
    ]


@pytest.mark.parametrize(
    "body", [b"not json", b'"text"', b'{"status": "DELIVERED"}', b"[1]", b'{"messageId": "x"}']
)
def test_malformed_delivery_report_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        make("http://127.0.0.1:1").parse_reports(body, {})


@given(st.binary(max_size=200))
def test_any_callback_body_parses_or_is_refused_cleanly(body: bytes) -> None:
    provider = make("http://127.0.0.1:1")
    try:
        reports = provider.parse_reports(body, {"Location": "/messaging/sms/m"})
    except ValueError:
        return
    assert all(r.status in ("delivered", "undelivered") for r in reports)


async def test_an_echoed_code_or_number_stays_out_of_the_error(
    fake: FakeSwisscom, sms: SwisscomSmsProvider
) -> None:
    fake.faults.append(Fault(400, "text 'Your code is 123456' refused for +41791234567"))
    with pytest.raises(ProviderError) as caught:
        await sms.send(MESSAGE)
    assert "123456" not in caught.value.reason
    assert "791234567" not in caught.value.reason
    assert "refused" in caught.value.reason


async def test_through_the_app_with_failover_on_quota(
    store: Store, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    settings = make_settings(
        providers={
            "swisscom": {
                "kind": "swisscom_sms",
                "base_url": fake.url,
                "client_id": "fake-client-id",
            },
            "capture": {"kind": "capture"},
        },
        service={"providers": ["swisscom", "capture"]},
    )
    async with open_api(settings, store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": "0791234567"})
        assert r.status_code == 201, r.text
        [to, text] = fake.outbox[-1]
        assert to == "+41791234567"
        sent = r.json()["send_attempts"]
        assert [(a["provider"], a["status"]) for a in sent] == [("swisscom", "sent")]
        assert sent[0]["message_id"] is not None
        assert len(sent[0]["message_id"]) == 32  # the id from Location
        code = text.rsplit(" ", 1)[-1]
        check = await api.post("/v1/verifications/check", {"to": to, "code": code})
        assert check.json()["valid"] is True

        fake.faults.append(Fault(429, headers={"Retry-After": "60"}))
        r = await api.post("/v1/verifications", {"to": "+41791234568"})
        assert r.status_code == 201, r.text
        sent = r.json()["send_attempts"]
        assert [(a["provider"], a["status"]) for a in sent] == [
            ("swisscom", "failed"),
            ("capture", "sent"),
        ]
        assert "EXPIRED_QUOTA" in sent[0]["error"]
        assert api.last_code("+41791234568").isdigit()
