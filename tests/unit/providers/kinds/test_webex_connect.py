"""Webex Connect against a fake of its documented Send Message API v1 (seed 003)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from tests.support.fake_http import FakeServer, Handler
from tests.unit.providers.kinds.conftest import MESSAGE, TEXT, MakeProvider
from tests.unit.providers.kinds.fakes import WEBEX_TRANSID, webex_api, webex_config, webex_error
from verify_service.providers.base import DeliveryReport, Provider, ProviderError
from verify_service.providers.registry import build_provider


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer]) -> FakeServer:
    return start_fake(webex_api)


@pytest.fixture
def webex(fake: FakeServer, make_provider: MakeProvider) -> Provider:
    return make_provider(webex_config(fake.url))


async def test_sends_the_documented_request_and_returns_the_transid(
    fake: FakeServer, webex: Provider
) -> None:
    result = await webex.send(MESSAGE)

    assert result.message_id == WEBEX_TRANSID
    req = fake.last
    assert (req.method, req.path) == ("POST", "/resources/v1/messaging")
    assert req.headers["key"] == "webex-service-key"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "deliverychannel": "sms",
        "destination": [{"msisdn": ["+41791234567"]}],
        "channels": {"sms": {"senderid": "VERIFY", "text": TEXT, "type": "1"}},
        "correlationid": "ver_abc.1",
    }


@pytest.mark.parametrize(
    ("text", "sms_type"),
    [
        ("Ihr Code: 482913 (gültig 10 Min.)", "1"),  # ü is in the GSM alphabet
        ("Code {482913} for €", "1"),  # extension table
        ("Votre code : 482913 — merci", "4"),  # the em dash is not
        ("Ваш код: 482913", "4"),
        ("482913 🔐", "4"),
    ],
)
async def test_type_is_text_for_gsm7_and_unicode_otherwise(
    fake: FakeServer, webex: Provider, text: str, sms_type: str
) -> None:
    await webex.send(dataclasses.replace(MESSAGE, text=text))
    sms = fake.last.json()["channels"]["sms"]
    assert (sms["text"], sms["type"]) == (text, sms_type)


@pytest.mark.parametrize(
    ("config", "code"),
    [({"service_key": "wrong"}, "7001"), ({"sender_id": ""}, "7003")],
)
async def test_errors_under_http_200_are_permanent(
    fake: FakeServer, make_provider: MakeProvider, config: dict[str, str], code: str
) -> None:
    with pytest.raises(ProviderError) as exc:
        await make_provider(webex_config(fake.url, **config)).send(MESSAGE)
    assert exc.value.retryable is False
    assert code in exc.value.reason


async def test_an_invalid_number_is_refused_as_invalid_parameter(
    fake: FakeServer, webex: Provider
) -> None:
    # 7004 does not say which parameter: it may be the sender, so failover stays allowed.
    with pytest.raises(ProviderError) as exc:
        await webex.send(dataclasses.replace(MESSAGE, to="0791234567"))
    assert "7004" in exc.value.reason
    assert exc.value.retryable is False


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("7000", False), ("7002", False), ("7006", True), ("7007", False), ("7999", False)],
)
async def test_error_codes_are_classified(
    fake: FakeServer, webex: Provider, code: str, retryable: bool
) -> None:
    fake.script(webex_error(code, "whatever"))
    with pytest.raises(ProviderError) as exc:
        await webex.send(MESSAGE)
    assert exc.value.retryable is retryable
    assert exc.value.recipient_invalid is False


async def test_an_unknown_error_that_echoes_the_text_keeps_the_code_out(
    fake: FakeServer, webex: Provider
) -> None:
    fake.script(webex_error("7999", f"cannot send {TEXT!r}"))
    with pytest.raises(ProviderError) as exc:
        await webex.send(MESSAGE)
    assert "482913" not in exc.value.reason


def test_base_url_is_required() -> None:
    config = webex_config("x")
    del config["base_url"]
    with pytest.raises(ValueError, match="base_url is required"):
        build_provider("w", config)


# -- delivery reports ------------------------------------------------------------------
def notification(status: str) -> bytes:
    return json.dumps(
        {
            "deliveryInfoNotification": {
                "deliveryInfo": {
                    "deliveryStatus": status,
                    "code": "6001",
                    "destination": "+41791234567",
                },
                "transid": WEBEX_TRANSID,
                "correlationid": "ver_abc.1",
            }
        }
    ).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Delivered", "delivered"), ("Undelivered", "undelivered"), ("Failed", "undelivered")],
)
def test_delivery_notifications_map_to_final_states(
    webex: Provider, status: str, expected: str
) -> None:
    assert webex.parse_reports(notification(status), {}) == [
        DeliveryReport(WEBEX_TRANSID, expected, status)
    ]


def test_submitted_is_intermediate(webex: Provider) -> None:
    assert webex.parse_reports(notification("Submitted"), {}) == []


@pytest.mark.parametrize("body", [b"", b"[1]", b'{"deliveryInfoNotification": {}}'])
def test_a_body_of_another_shape_is_refused(webex: Provider, body: bytes) -> None:
    with pytest.raises(ValueError):
        webex.parse_reports(body, {})
