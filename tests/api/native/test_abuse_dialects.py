"""The Swisscom- and Twilio-compatible APIs run under the same abuse policy as v1: the
client address (behind trusted proxies) reaches the per-client limits, and refusals come
back in each dialect's own shape."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx

from tests.conftest import API_KEY
from tests.support.abuse_helpers import GUARD_OFF, only, open_client
from verify_service.config import Settings
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
SWISSCOM = {
    "SCS-Version": "2",
    "client_id": API_KEY,
    "Accept": "application/json",
}


def per_ip_settings(make_settings: MakeSettings) -> Settings:
    return make_settings(
        trusted_proxies=["10.0.0.0/8"],
        service={"rate_limits": only(per_ip=["1/10minutes"]), "fraud_guard": GUARD_OFF},
    )


async def test_swisscom_api_per_ip_limit(store: Store, make_settings: MakeSettings) -> None:
    async with open_client(per_ip_settings(make_settings), store, API_KEY, peer="10.0.0.5") as api:

        async def start(to: str, ip: str) -> httpx.Response:
            body = {"to": to, "text": "Code %TOKEN%", "tokenType": "SHORT_NUMERIC"}
            headers = {**SWISSCOM, "X-Forwarded-For": ip}
            return await api.http.post("/messaging/tokenvalidation", json=body, headers=headers)

        assert (await start("0791234567", "203.0.113.1")).status_code == 201
        r = await start("0791234568", "203.0.113.1")
        assert r.status_code == 429
        assert r.json()["code"] == "EXPIRED_QUOTA"
        assert 598 <= int(r.headers["retry-after"]) <= 600
        assert (await start("0791234568", "203.0.113.2")).status_code == 201


async def test_twilio_api_per_ip_limit(store: Store, make_settings: MakeSettings) -> None:
    settings = per_ip_settings(make_settings)
    service = settings.services[0]
    token = base64.b64encode(f"{service.twilio_account_sid}:{API_KEY}".encode()).decode()
    path = f"/v2/Services/{service.twilio_service_sid}/Verifications"
    async with open_client(settings, store, API_KEY, peer="10.0.0.5") as api:

        async def start(to: str, ip: str) -> httpx.Response:
            headers = {"Authorization": f"Basic {token}", "X-Forwarded-For": ip}
            return await api.http.post(path, data={"To": to, "Channel": "sms"}, headers=headers)

        assert (await start("+41791234567", "203.0.113.1")).status_code == 201
        r = await start("+41791234568", "203.0.113.1")
        assert r.status_code == 429
        assert r.json()["code"] == 20429
        assert (await start("+41791234568", "203.0.113.2")).status_code == 201
