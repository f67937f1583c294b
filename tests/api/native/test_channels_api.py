"""Each channel end to end through the native API: a start on sms, whatsapp (Webex
Connect's API), voice (a TTS API through the http kind) and email (a real SMTP server)
delivers the right text, and its code checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import API_KEY, config
from tests.support.fake_channels import (
    voice_api,
    voice_config,
    webex_whatsapp_api,
    webex_whatsapp_config,
)
from tests.support.fake_http import FakeServer
from tests.support.helpers import Api, open_api
from tests.support.smtp_server import SmtpServer, smtp_server
from verify_service.config import settings_from_mapping
from verify_service.store import Store

TO = "+41791234567"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeServer, FakeServer, SmtpServer]]:
    with (
        FakeServer(webex_whatsapp_api) as webex,
        FakeServer(voice_api) as voice,
        smtp_server() as mail,
    ):
        yield webex, voice, mail


@pytest.fixture
async def api(store: Store, fakes: tuple[FakeServer, FakeServer, SmtpServer]) -> AsyncIterator[Api]:
    webex, voice, mail = fakes
    smtp = {"kind": "smtp", "host": mail.host, "port": mail.port, "security": "none",
            "sender": "codes@login.example"}  # fmt: skip
    data = config(
        providers={
            "capture": {"kind": "capture"},
            "webex": webex_whatsapp_config(webex.url, whatsapp_template=None),
            "voice": voice_config(voice.url),
            "smtp": smtp,
        },
        service={
            "channels": {
                "whatsapp": {"providers": ["webex"], "template": "Your WhatsApp code: %TOKEN%"},
                "voice": {"providers": ["voice"]},
                "email": {
                    "providers": ["smtp"],
                    "subject": "Login code",
                    "template": "Your code is %TOKEN%.\nIt expires in 10 minutes.",
                    "locales": {
                        "de": {"subject": "Anmeldecode", "template": "Ihr Code: %TOKEN% <&>"}
                    },
                },
            }
        },
    )
    async with open_api(settings_from_mapping(data, environ={}), store, API_KEY) as a:
        yield a


async def start_and_check(api: Api, body: dict[str, Any], code: str) -> dict[str, Any]:
    started = await api.post("/v1/verifications", json=body)
    assert started.status_code == 201, started.text
    checked = await api.post(
        "/v1/verifications/check", json={"verification_id": started.json()["id"], "code": code}
    )
    assert checked.json()["status"] == "approved", checked.text
    return dict(started.json())


async def test_sms(api: Api) -> None:
    started = await api.post("/v1/verifications", json={"to": TO})
    assert started.json()["channel"] == "sms"
    assert started.json()["send_attempts"][0]["channel"] == "sms"
    checked = await api.post("/v1/verifications/check", json={"to": TO, "code": api.last_code(TO)})
    assert checked.json()["valid"]


async def test_whatsapp(api: Api, fakes: tuple[FakeServer, FakeServer, SmtpServer]) -> None:
    webex = fakes[0]
    started = await api.post("/v1/verifications", json={"to": TO, "channel": "whatsapp"})
    assert started.status_code == 201, started.text
    body = webex.last.json()
    text = body["channels"]["OTT-Messaging"]["wa"]["text"]["body"]
    assert text.startswith("Your WhatsApp code: ")
    assert body["destination"] == [{"waid": ["41791234567"]}]
    out = started.json()
    assert (out["channel"], out["send_attempts"][0]["provider"]) == ("whatsapp", "webex")
    checked = await api.post(
        "/v1/verifications/check", json={"to": TO, "code": text.rsplit(" ", 1)[1]}
    )
    assert checked.json()["valid"]
    assert api.captured().messages == []  # nothing went out by SMS


async def test_voice_reads_the_code_digit_by_digit_twice(
    api: Api, fakes: tuple[FakeServer, FakeServer, SmtpServer]
) -> None:
    voice = fakes[1]
    await api.post("/v1/verifications", json={"to": TO, "channel": "voice"})
    say = voice.last.json()["say"]
    first, again = say.removeprefix("Your verification code is ").split(". Again: ")
    again = again.removesuffix(".")
    assert first == again
    digits = first.split(", ")
    assert len(digits) == 6
    assert all(len(d) == 1 and d.isdigit() for d in digits)
    checked = await api.post("/v1/verifications/check", json={"to": TO, "code": "".join(digits)})
    assert checked.json()["valid"]


async def test_email(api: Api, fakes: tuple[FakeServer, FakeServer, SmtpServer]) -> None:
    mail = fakes[2]
    started = await api.post(
        "/v1/verifications", json={"to": "Alice@EXAMPLE.com", "channel": "email"}
    )
    assert started.status_code == 201, started.text
    assert started.json()["to"] == "Alice@example.com"  # domain normalised, mailbox kept
    got = mail.last
    assert got.recipients == ["Alice@example.com"]
    assert got.mail["Subject"] == "Login code"
    text = got.part("plain")
    assert text.startswith("Your code is ")
    code = text.split()[3].rstrip(".")
    assert got.part("html").count(code) == 1
    assert "<br>" in got.part("html")  # the text's lines, as HTML
    checked = await api.post(
        "/v1/verifications/check",
        json={"to": "alice@example.com".replace("a", "A", 1), "code": code},
    )
    assert checked.json()["valid"]


async def test_email_in_a_locale_escapes_the_text_in_html(
    api: Api, fakes: tuple[FakeServer, FakeServer, SmtpServer]
) -> None:
    mail = fakes[2]
    r = await api.post(
        "/v1/verifications",
        json={"to": "bob@example.com", "channel": "email"},
        headers={"Accept-Language": "de-CH, en;q=0.5"},
    )
    assert r.status_code == 201, r.text
    assert mail.last.mail["Subject"] == "Anmeldecode"
    assert mail.last.part("plain").strip().endswith("<&>")
    assert "&lt;&amp;&gt;" in mail.last.part("html")
    assert "<&>" not in mail.last.part("html")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"to": "alice@example.com", "channel": "sms"}, 400, "invalid_phone_number"),
        ({"to": "alice@example.com", "channel": "whatsapp"}, 400, "invalid_phone_number"),
        ({"to": TO, "channel": "email"}, 400, "invalid_email_address"),
        ({"to": "alice@", "channel": "email"}, 400, "invalid_email_address"),
        ({"to": TO, "workflow": [{"channel": "sms", "timeout": 30}, {"channel": "fax"}]}, 400,
         "invalid_request"),
        ({"to": TO, "workflow": [{"channel": "sms"}, {"channel": "voice"}]}, 400,
         "invalid_request"),
    ],
)  # fmt: skip
async def test_bad_channel_input_is_a_400_and_nothing_is_sent(
    api: Api,
    fakes: tuple[FakeServer, FakeServer, SmtpServer],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    r = await api.post("/v1/verifications", json=body)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert r.headers["content-type"].startswith("application/problem+json")
    webex, voice, mail = fakes
    assert webex.requests == []
    assert voice.requests == []
    assert mail.received == []
    assert api.captured().messages == []
