"""Delivery reports of the real adapters through the webhook: a start is sent via the
adapter to its fake, then the provider's documented callback marks that send, on both
stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import API_KEY, config
from tests.support.fake_http import FakeServer, Handler
from tests.support.helpers import open_api
from tests.unit.providers.kinds.fakes import (
    smsfactor_api,
    smsfactor_config,
    webex_api,
    webex_config,
    websms_api,
    websms_config,
)
from verify_service.config import settings_from_mapping
from verify_service.store import Store

TO = "+41791234567"
SECRET = "reports-0123456789abcdef"
StartFake = Callable[[Handler], FakeServer]


def websms_report(message_id: str) -> dict[str, Any]:
    return {
        "messageType": "deliveryReport",
        "notificationId": "n-1",
        "transferId": message_id,
        "deliveryReportMessageStatus": "delivered",
    }


def webex_report(message_id: str) -> dict[str, Any]:
    return {
        "deliveryInfoNotification": {
            "deliveryInfo": {"deliveryStatus": "Undelivered", "code": "7310"},
            "transid": message_id,
        }
    }


def smsfactor_report(message_id: str) -> dict[str, Any]:
    return {"date": "2026-11-22 00:00:00", "status": 3, "campaign_id": message_id}


CASES = [
    ("websms", websms_api, websms_config, websms_report, "delivered", None),
    ("webex_connect", webex_api, webex_config, webex_report, "undelivered", "Undelivered"),
    ("smsfactor", smsfactor_api, smsfactor_config, smsfactor_report, "delivered", None),
]


@pytest.mark.parametrize(("kind", "api", "make_config", "body", "status", "error"), CASES)
async def test_a_callback_marks_the_send(
    store: Store,
    start_fake: StartFake,
    kind: str,
    api: Handler,
    make_config: Callable[..., dict[str, Any]],
    body: Callable[[str], dict[str, Any]],
    status: str,
    error: str | None,
) -> None:
    fake = start_fake(api)
    providers = {kind: make_config(fake.url, report_secret="env:REPORTS")}
    settings = settings_from_mapping(
        config(providers=providers, service={"providers": [kind]}), environ={"REPORTS": SECRET}
    )
    async with open_api(settings, store, API_KEY) as app:
        r = await app.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        verification_id = r.json()["id"]
        [sent] = r.json()["send_attempts"]
        assert sent["message_id"]

        path = f"/v1/providers/{kind}/reports/{SECRET}"
        r = await app.client.post(path, json=body(sent["message_id"]))
        assert r.status_code == 200, r.text
        if kind == "websms":  # websms's own acknowledgement shape
            assert r.json() == {"statusCode": 2000, "statusMessage": "OK"}

        r = await app.get(f"/v1/verifications/{verification_id}")
        [attempt] = r.json()["send_attempts"]
        assert (attempt["status"], attempt["error"]) == (status, error)

        r = await app.client.post(path, json={"unexpected": "shape"})
        assert r.status_code == 400
