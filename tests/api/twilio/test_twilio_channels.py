"""Twilio's official SDK creates verifications on channel 'whatsapp', 'call' and 'email'
and checks them; a channel the service does not enable is 60223, a wrong `To` 60200."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import API_KEY, OTHER_KEY, config
from tests.support.twilio_sdk import LocalServer, serve
from verify_service.api.app import create_app
from verify_service.config import Settings, hash_api_key, settings_from_mapping
from verify_service.providers.kinds.capture import CaptureProvider


def settings() -> Settings:
    other = {"name": "other", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["capture"]}
    data = config(
        providers={name: {"kind": "capture"} for name in ("capture", "wa", "call", "mail")},
        service={
            "channels": {
                "whatsapp": {"providers": ["wa"]},
                "voice": {"providers": ["call"], "template": "Code: %TOKEN%"},
                "email": {"providers": ["mail"], "template": "Your code is %TOKEN%"},
            }
        },
        extra_services=[other],
    )
    return settings_from_mapping(data, environ={})


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve(create_app(settings())) as s:
        yield s


def verify(server: LocalServer, key: str = API_KEY, service: str = "login") -> Any:
    s = server.app.state.components.settings.service(service)
    client: Client = server.client(s.twilio_account_sid, key)
    return client.verify.v2.services(s.twilio_service_sid)


def last_text(server: LocalServer, provider: str, to: str) -> str:
    capture = server.app.state.components.providers[provider]
    assert isinstance(capture, CaptureProvider)
    return capture.sent_to(to)[-1].text


@pytest.mark.parametrize(
    ("channel", "to", "provider"),
    [
        ("whatsapp", "+41791120001", "wa"),
        ("call", "+41791120002", "call"),
        ("email", "carol@example.com", "mail"),
    ],
)
def test_the_sdk_verifies_on_each_channel(
    server: LocalServer, channel: str, to: str, provider: str
) -> None:
    service = verify(server)
    created = service.verifications.create(to=to, channel=channel)
    assert created.status == "pending"
    assert created.channel == channel
    # Upper case, as in Twilio's examples (`SMS`; `EMAIL` in createVerificationEmail).
    assert created.send_code_attempts[0]["channel"] == channel.upper()
    code = last_text(server, provider, to).rsplit(" ", 1)[1]
    if channel == "call":
        assert code == ", ".join(code.replace(", ", ""))
        code = last_text(server, provider, to).removeprefix("Code: ").replace(", ", "")
    check = service.verification_checks.create(to=to, code=code)
    assert check.status == "approved"
    assert check.valid is True
    assert check.channel == channel


@pytest.mark.parametrize(
    ("to", "channel", "key", "service", "code"),
    [
        ("+41791120003", "whatsapp", OTHER_KEY, "other", 60223),
        ("+41791120003", "email", API_KEY, "login", 60200),
        ("dave@example.com", "sms", API_KEY, "login", 60200),
        ("+41791120003", "voice", API_KEY, "login", 60200),
    ],
)
def test_bad_channels_and_addresses_in_twilios_words(
    server: LocalServer, to: str, channel: str, key: str, service: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        verify(server, key, service).verifications.create(to=to, channel=channel)
    assert (caught.value.status, caught.value.code) == (400, code)
    if code == 60223:
        assert "WHATSAPP" in caught.value.msg
