"""A start through the HTTP API delivers via real provider adapters to fake providers, with
failover and the invalid-number stop, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import API_KEY
from tests.support.fake_http import FakeServer, Handler, Recorded, Reply
from tests.support.helpers import open_api
from tests.unit.providers.kinds.fakes import (
    SECRET,
    WEBEX_TRANSID,
    WEBSMS_TRANSFER_ID,
    endpoint_api,
    http_config,
    smsfactor_answer,
    smsfactor_api,
    smsfactor_config,
    swift_api,
    swift_config,
    verify_standard_webhook,
    webex_api,
    webex_config,
    websms_api,
    websms_config,
)
from verify_service.config import Settings
from verify_service.store import Store

TO = "+41791234567"
MakeSettings = Callable[..., Settings]
StartFake = Callable[[Handler], FakeServer]


def settings_with(make_settings: MakeSettings, providers: dict[str, dict[str, Any]]) -> Settings:
    return make_settings(providers=providers, service={"providers": list(providers)})


async def test_a_start_is_delivered_by_websms_and_its_code_checks(
    store: Store, make_settings: MakeSettings, start_fake: StartFake
) -> None:
    websms = start_fake(websms_api)
    settings = settings_with(make_settings, {"websms": websms_config(websms.url)})
    async with open_api(settings, store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": "079 123 45 67"})
        assert r.status_code == 201, r.text
        [attempt] = r.json()["send_attempts"]
        assert attempt["provider"] == "websms"
        assert attempt["status"] == "sent"
        assert attempt["message_id"] == WEBSMS_TRANSFER_ID

        sent = websms.last.json()
        assert sent["recipientAddressList"] == [41791234567]
        code = sent["messageContent"].rsplit(" ", 1)[-1]
        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["status"] == "approved"


async def test_a_failing_provider_fails_over_to_the_next(
    store: Store, make_settings: MakeSettings, start_fake: StartFake
) -> None:
    swift, webex = start_fake(swift_api), start_fake(webex_api)
    swift.script(Reply(503, body=b"unavailable"))
    # retries = 0: a 503 would otherwise be retried once on swift (router.py) and succeed
    providers = {"swift": swift_config(swift.url, retries=0), "webex": webex_config(webex.url)}
    async with open_api(settings_with(make_settings, providers), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        attempts = r.json()["send_attempts"]
        assert [(a["provider"], a["status"]) for a in attempts] == [
            ("swift", "failed"),
            ("webex", "sent"),
        ]
        assert "503" in attempts[0]["error"]
        assert attempts[1]["message_id"] == WEBEX_TRANSID
        text = webex.last.json()["channels"]["sms"]["text"]
        assert text.startswith("Your code is ")


async def test_a_number_the_provider_refuses_stops_failover(
    store: Store, make_settings: MakeSettings, start_fake: StartFake
) -> None:
    smsfactor, websms = start_fake(smsfactor_api), start_fake(websms_api)
    smsfactor.script(smsfactor_answer(1, sent=0, invalid=1))
    providers = {"smsfactor": smsfactor_config(smsfactor.url), "websms": websms_config(websms.url)}
    async with open_api(settings_with(make_settings, providers), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_phone_number"
    assert websms.requests == []
    assert smsfactor.last.json()["sms"]["recipients"]["gsm"][0]["value"] == "41791234567"


async def test_a_signed_request_reaches_the_users_own_endpoint(
    store: Store, make_settings: MakeSettings, start_fake: StartFake
) -> None:
    def own_endpoint(req: Recorded) -> Reply:
        if not verify_standard_webhook(req, SECRET):
            return Reply(401)
        return endpoint_api(req)

    endpoint = start_fake(own_endpoint)
    providers = {"own": http_config(endpoint.url, signing_secret=SECRET)}
    async with open_api(settings_with(make_settings, providers), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        assert r.json()["send_attempts"][0]["message_id"] == "m-42"
        code = endpoint.last.json()["text"].rsplit(" ", 1)[-1]
        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["valid"] is True
