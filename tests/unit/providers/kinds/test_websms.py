"""websms against a fake of its documented REST API (seed 002)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fake_http import FakeServer, Handler, Reply
from tests.unit.providers.kinds.conftest import MESSAGE, TEXT, MakeProvider
from tests.unit.providers.kinds.fakes import (
    UNREACHABLE,
    WEBSMS_PASSWORD,
    WEBSMS_TRANSFER_ID,
    WEBSMS_USER,
    websms_api,
    websms_config,
    websms_status,
)
from verify_service.providers.base import DeliveryReport, Provider, ProviderError


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer]) -> FakeServer:
    return start_fake(websms_api)


@pytest.fixture
def websms(fake: FakeServer, make_provider: MakeProvider) -> Provider:
    return make_provider(websms_config(fake.url))


async def test_sends_the_documented_request_and_returns_the_transfer_id(
    fake: FakeServer, websms: Provider
) -> None:
    result = await websms.send(MESSAGE)

    assert result.message_id == WEBSMS_TRANSFER_ID
    req = fake.last
    assert (req.method, req.path) == ("POST", "/rest/smsmessaging/text")
    assert req.headers["authorization"] == "Bearer websms-token"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["accept"] == "application/json"
    assert req.json() == {
        "recipientAddressList": [41791234567],  # a JSON number, digits of E.164
        "messageContent": TEXT,
        "clientMessageId": "ver_abc.1",
    }


async def test_basic_auth_and_an_alphanumeric_sender(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    config = websms_config(fake.url, sender="Verify")
    del config["access_token"]
    provider = make_provider({**config, "username": WEBSMS_USER, "password": WEBSMS_PASSWORD})

    await provider.send(MESSAGE)

    pair = base64.b64encode(f"{WEBSMS_USER}:{WEBSMS_PASSWORD}".encode()).decode()
    assert fake.last.headers["authorization"] == f"Basic {pair}"
    body = fake.last.json()
    assert (body["senderAddress"], body["senderAddressType"]) == ("Verify", "alphanumeric")


async def test_a_numeric_sender_goes_as_international_digits(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(websms_config(fake.url, sender="+41791110000"))
    await provider.send(MESSAGE)
    body = fake.last.json()
    assert (body["senderAddress"], body["senderAddressType"]) == ("41791110000", "international")


async def test_test_mode_sets_the_documented_flag(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    await make_provider(websms_config(fake.url, test=True)).send(MESSAGE)
    assert fake.last.json()["test"] is True


async def test_queued_is_success_too(fake: FakeServer, websms: Provider) -> None:
    fake.script(Reply(200, json={"statusCode": 2001, "transferId": "t-2001", "smsCount": 1}))
    assert (await websms.send(MESSAGE)).message_id == "t-2001"


async def test_missing_or_wrong_credentials_are_permanent(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(websms_config(fake.url, access_token="wrong"))
    with pytest.raises(ProviderError) as exc:
        await provider.send(MESSAGE)
    assert fake.requests, "the request reached the fake"
    assert exc.value.retryable is False
    assert exc.value.recipient_invalid is False
    assert "401" in exc.value.reason


@pytest.mark.parametrize(
    ("code", "retryable", "recipient_invalid"),
    [
        (4001, False, False),  # invalid credentials, under HTTP 200
        (4002, False, True),  # invalid recipient: no other provider will do better
        (4013, False, False),  # message limit reached
        (4023, True, False),  # IP throttling
        (4031, False, False),  # blacklisted at websms only
        (5000, True, False),
        (5003, True, False),
    ],
)
async def test_body_level_errors_under_http_200_are_classified(
    fake: FakeServer, websms: Provider, code: int, retryable: bool, recipient_invalid: bool
) -> None:
    fake.script(websms_status(code, "something went wrong"))
    with pytest.raises(ProviderError) as exc:
        await websms.send(MESSAGE)
    assert exc.value.retryable is retryable
    assert exc.value.recipient_invalid is recipient_invalid
    assert str(code) in exc.value.reason


async def test_a_number_the_fake_refuses_is_recipient_invalid(
    fake: FakeServer, websms: Provider
) -> None:
    with pytest.raises(ProviderError) as exc:
        await websms.send(dataclasses.replace(MESSAGE, to=UNREACHABLE))
    assert exc.value.recipient_invalid is True


async def test_an_error_message_that_echoes_the_text_keeps_the_code_out(
    fake: FakeServer, websms: Provider
) -> None:
    fake.script(websms_status(4009, f"Message text is invalid: '{TEXT}'"))
    with pytest.raises(ProviderError) as exc:
        await websms.send(MESSAGE)
    assert "482913" not in exc.value.reason
    assert "4009" in exc.value.reason


async def test_an_answer_without_status_code_is_not_taken_for_success(
    fake: FakeServer, websms: Provider
) -> None:
    fake.script(Reply(200, body=b"<html>maintenance</html>"))
    with pytest.raises(ProviderError) as exc:
        await websms.send(MESSAGE)
    assert exc.value.retryable is False


def test_credentials_are_required_and_exclusive() -> None:
    with pytest.raises(ValueError, match="access_token, or username"):
        websms_config_only({"kind": "websms"})
    with pytest.raises(ValueError, match="not both"):
        websms_config_only({"kind": "websms", "access_token": "t", "username": "u"})
    with pytest.raises(ValueError, match=r"providers\.w\.tokn: Extra inputs"):
        websms_config_only({"kind": "websms", "access_token": "t", "tokn": "x"})


def websms_config_only(config: dict[str, Any]) -> Provider:
    from verify_service.providers.registry import build_provider

    return build_provider("w", config)


# -- delivery reports ------------------------------------------------------------------
def report(status: str, **extra: Any) -> bytes:
    return json.dumps(
        {
            "messageType": "deliveryReport",
            "notificationId": "n-1",
            "transferId": WEBSMS_TRANSFER_ID,
            "deliveryReportMessageStatus": status,
            "sentOn": "2026-11-21T10:00:00.000+0100",
            "deliveredOn": "2026-11-21T10:00:03.000+0100",
            "clientMessageId": "ver_abc.1",
            **extra,
        }
    ).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("expired", "undelivered"),
        ("deleted", "undelivered"),
        ("rejected", "undelivered"),
    ],
)
def test_delivery_reports_map_to_final_states(websms: Provider, status: str, expected: str) -> None:
    assert websms.parse_reports(report(status), {}) == [
        DeliveryReport(WEBSMS_TRANSFER_ID, expected, status)
    ]


def test_intermediate_reports_and_other_notifications_are_skipped(websms: Provider) -> None:
    assert websms.parse_reports(report("accepted"), {}) == []
    inbound = json.dumps({"messageType": "text", "textMessageContent": "hi"}).encode()
    assert websms.parse_reports(inbound, {}) == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"transferId": "x"}'])
def test_a_body_of_another_shape_is_refused(websms: Provider, body: bytes) -> None:
    with pytest.raises(ValueError):
        websms.parse_reports(body, {})
