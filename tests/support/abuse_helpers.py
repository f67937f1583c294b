"""Helpers for the abuse-protection tests: settings with only the layers under test, and
an API client whose socket address is chosen (to test trusted proxies and per-IP limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from verify_service.api.app import create_app
from verify_service.config import Settings
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store
from verify_service.usecases.verifications import Verifications

NO_LIMITS: dict[str, Any] = {
    "per_number": [],
    "per_ip": [],
    "per_country": [],
    "global_sends": [],
    "checks_per_ip": [],
}
GUARD_OFF = {"enabled": False}


def only(**layers: list[str]) -> dict[str, Any]:
    """rate_limits with every layer off except the ones given."""
    return {**NO_LIMITS, **layers}


@dataclass
class Client:
    http: httpx.AsyncClient
    verifications: Verifications
    api_key: str

    async def post(
        self, path: str, json: Any = None, *, key: str | None = None, **headers: str
    ) -> httpx.Response:
        auth = {"Authorization": f"Bearer {key or self.api_key}"}
        return await self.http.post(path, json=json, headers={**auth, **headers})

    async def get(self, path: str, *, key: str | None = None) -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {key or self.api_key}"})

    def sent_to(self, to: str, provider: str = "capture") -> list[str]:
        capture = self.verifications.providers[provider]
        assert isinstance(capture, CaptureProvider)
        return [m.text for m in capture.sent_to(to)]

    def last_code(self, to: str, provider: str = "capture") -> str:
        return self.sent_to(to, provider)[-1].rsplit(" ", 1)[-1]


@asynccontextmanager
async def open_client(
    settings: Settings, store: Store, api_key: str, peer: str = "192.0.2.10"
) -> AsyncIterator[Client]:
    """The app in-process; requests come from socket address `peer`."""
    app = create_app(settings, store=store)
    async with app.lifespan():  # on this event loop, like the store's connections
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Client(http, app.state.verifications, api_key)
