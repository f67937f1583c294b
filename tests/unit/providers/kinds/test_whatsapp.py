"""WhatsApp kinds against loopback fakes of their documented APIs: Webex Connect's Send
Message API v1 (template and free text) and the websms Messaging API (OAuth client
credentials, template and text sends, NO_DEVICE_ENABLED / WHATSAPP_DISABLED)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.fake_channels import (
    DISABLED,
    NO_DEVICE,
    WEBEX_APP,
    WEBEX_TRANSID,
    WebsmsMessaging,
    webex_whatsapp_api,
    webex_whatsapp_config,
    websms_whatsapp_config,
)
from tests.support.fake_http import FakeServer, Handler, Recorded, Reply
from tests.unit.providers.kinds.conftest import MakeProvider
from verify_service.providers.base import OutgoingMessage, ProviderError
from verify_service.providers.registry import build_provider

TO = "+41791234567"


def whatsapp(to: str = TO, code: str = "482913") -> OutgoingMessage:
    return OutgoingMessage(to, f"Your code is {code}", "ver_abc.2", "whatsapp", code)


async def test_webex_sends_the_code_as_the_templates_parameter(
    start_fake: Callable[[Handler], FakeServer], make_provider: MakeProvider
) -> None:
    fake = start_fake(webex_whatsapp_api)
    result = await make_provider(webex_whatsapp_config(fake.url)).send(whatsapp())
    assert result.message_id == WEBEX_TRANSID
    assert fake.last.json() == {
        "appid": WEBEX_APP,
        "deliverychannel": "whatsapp",
        "destination": [{"waid": ["41791234567"]}],
        "correlationid": "ver_abc.2",
        "message": {"template": "otp_auth", "parameters": {"code": "482913"}},
    }


async def test_webex_without_a_template_sends_free_text(
    start_fake: Callable[[Handler], FakeServer], make_provider: MakeProvider
) -> None:
    fake = start_fake(webex_whatsapp_api)
    webex = make_provider(webex_whatsapp_config(fake.url, whatsapp_template=None))
    await webex.send(whatsapp())
    wa = fake.last.json()["channels"]["OTT-Messaging"]["wa"]
    assert wa == {"type": "text", "text": {"body": "Your code is 482913"}}


async def test_webex_refused_credentials_are_permanent(
    start_fake: Callable[[Handler], FakeServer], make_provider: MakeProvider
) -> None:
    fake = start_fake(webex_whatsapp_api)
    webex = make_provider(webex_whatsapp_config(fake.url, service_key="wrong"))
    with pytest.raises(ProviderError) as caught:
        await webex.send(whatsapp())
    assert caught.value.reason == "webex connect 7001: authentication failed"
    assert not caught.value.retryable


def test_webex_on_whatsapp_needs_the_app_id() -> None:
    from tests.conftest import config
    from verify_service.config import ConfigError, settings_from_mapping

    table = webex_whatsapp_config("https://api.us.webexconnect.io", whatsapp_app_id=None)
    data = config(
        providers={"capture": {"kind": "capture"}, "webex": table},
        service={"channels": {"whatsapp": {"providers": ["webex"]}}},
    )
    with pytest.raises(ConfigError, match="whatsapp_app_id is required"):
        settings_from_mapping(data, environ={})


@pytest.fixture
def websms(start_fake: Callable[[Handler], FakeServer]) -> tuple[FakeServer, WebsmsMessaging]:
    api = WebsmsMessaging()
    return start_fake(api), api


async def test_websms_gets_a_token_once_and_sends_the_template(
    websms: tuple[FakeServer, WebsmsMessaging], make_provider: MakeProvider
) -> None:
    fake, api = websms
    provider = make_provider(websms_whatsapp_config(fake.url))
    first = await provider.send(whatsapp())
    second = await provider.send(whatsapp(code="111222"))
    assert (first.message_id, second.message_id) == ("wa-1", "wa-2")
    assert api.tokens_issued == 1  # the token is kept while it lasts
    token_request = fake.requests[0]
    assert token_request.form() == {"grant_type": "client_credentials",
                                    "scope": "messaging:whatsapp"}  # fmt: skip
    send = fake.last
    assert send.path == "/messaging/whatsapp/send_template"
    assert send.json() == {
        "recipient": "41791234567",
        "templateName": "otp_auth",
        "language": "en",
        "parameters": ["111222"],
        "clientMessageId": "ver_abc.2",
    }


async def test_websms_renews_a_token_that_ended_early(
    websms: tuple[FakeServer, WebsmsMessaging], make_provider: MakeProvider
) -> None:
    fake, api = websms
    provider = make_provider(websms_whatsapp_config(fake.url))
    await provider.send(whatsapp())
    api.revoke()
    assert (await provider.send(whatsapp())).message_id == "wa-2"
    assert api.tokens_issued == 2


async def test_websms_text_without_a_template(
    websms: tuple[FakeServer, WebsmsMessaging], make_provider: MakeProvider
) -> None:
    fake, _ = websms
    provider = make_provider(websms_whatsapp_config(fake.url, template=None))
    await provider.send(whatsapp())
    assert fake.last.path == "/messaging/whatsapp/send_text"
    assert fake.last.json()["text"] == "Your code is 482913"


@pytest.mark.parametrize(
    ("to", "reason"),
    [(NO_DEVICE, "websms 4032 NO_DEVICE_ENABLED"), (DISABLED, "websms 4033 WHATSAPP_DISABLED")],
)
async def test_websms_whatsapp_account_refusals_are_permanent(
    websms: tuple[FakeServer, WebsmsMessaging], make_provider: MakeProvider, to: str, reason: str
) -> None:
    fake, _ = websms
    with pytest.raises(ProviderError) as caught:
        await make_provider(websms_whatsapp_config(fake.url)).send(whatsapp(to=to))
    assert caught.value.reason.startswith(reason)
    assert not caught.value.retryable
    assert not caught.value.recipient_invalid  # another provider may have WhatsApp


async def test_websms_refused_client_credentials_are_permanent(
    websms: tuple[FakeServer, WebsmsMessaging], make_provider: MakeProvider
) -> None:
    fake, _ = websms
    provider = make_provider(websms_whatsapp_config(fake.url, client_secret="wrong-secret-0"))
    with pytest.raises(ProviderError) as caught:
        await provider.send(whatsapp())
    assert caught.value.reason == "HTTP 401: websms token refused"
    assert not caught.value.retryable


def test_sms_only_kinds_cannot_serve_whatsapp() -> None:
    from tests.conftest import config
    from verify_service.config import ConfigError, settings_from_mapping

    mail = {"kind": "smtp", "host": "h", "sender": "a@b.example"}
    data = config(
        service={"channels": {"voice": {"providers": ["mail"]}}},
        providers={"capture": {"kind": "capture"}, "mail": mail},
    )
    with pytest.raises(ConfigError, match="kind smtp cannot send on the voice channel"):
        settings_from_mapping(data, environ={})
    assert build_provider("x", {"kind": "websms_whatsapp", "client_id": "c",
                                "client_secret": "s"}).channels == {"whatsapp"}  # fmt: skip


@pytest.mark.parametrize("token", ["tök-1", "token-1\r\nX-Injected: 1", "token-1\n"])
async def test_a_websms_token_that_cannot_travel_in_a_header_is_a_provider_error(
    start_fake: Callable[[Handler], FakeServer], make_provider: MakeProvider, token: str
) -> None:
    # The token comes from websms's answer, not from the config (which is checked when it
    # loads): one that no header can carry is websms's fault, said as such, not a crash.
    def auth(req: Recorded) -> Reply:
        return Reply(200, json={"access_token": token, "token_type": "bearer", "expires_in": 300})

    fake = start_fake(auth)
    with pytest.raises(ProviderError) as caught:
        await make_provider(websms_whatsapp_config(fake.url)).send(whatsapp())
    assert "unfit for an HTTP header" in caught.value.reason
    assert token.split("\n")[0].strip() not in caught.value.reason
    assert not caught.value.retryable
    assert len(fake.requests) == 1  # no send was tried with it
