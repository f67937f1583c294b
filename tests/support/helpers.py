"""Running the app in-process for API tests, and reading what the capture provider got."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from verify_service.api.app import create_app
from verify_service.api.deps import Components
from verify_service.config import Settings
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store
from verify_service.usecases.verifications import Verifications


@dataclass
class Api:
    client: AsyncTestClient[Any]
    components: Components
    api_key: str

    @property
    def verifications(self) -> Verifications:
        return self.components.verifications

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.post(path, json=json, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kwargs)

    def captured(self, provider: str = "capture") -> CaptureProvider:
        return captured(self.components, provider)

    def last_text(self, to: str, provider: str = "capture") -> str:
        return sent_text(self.components, to, provider)

    def last_code(self, to: str, provider: str = "capture") -> str:
        """The code in the last message to `to` (templates in tests end with the code)."""
        return sent_code(self.components, to, provider)


def captured(components: Components, provider: str = "capture") -> CaptureProvider:
    p = components.providers[provider]
    assert isinstance(p, CaptureProvider)
    return p


def sent_text(components: Components, to: str, provider: str = "capture") -> str:
    """The last message the capture provider took for `to`."""
    sent = captured(components, provider).sent_to(to)
    assert sent, f"nothing was sent to {to}"
    return sent[-1].text


def sent_code(components: Components, to: str, provider: str = "capture") -> str:
    """The code in the last message to `to` (templates in tests end with the code)."""
    return sent_text(components, to, provider).rsplit(" ", 1)[-1].strip()


@asynccontextmanager
async def open_api(settings: Settings, store: Store, api_key: str) -> AsyncIterator[Api]:
    app = create_app(settings, store=store)
    async with AsyncTestClient(app) as client:
        yield Api(client, app.state.components, api_key)


def wrong_code(code: str) -> str:
    """A code of the same length and alphabet as `code` that differs in every symbol: a
    wrong attempt (a code of another shape spends none, README "Checking a code")."""
    symbols = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    if code.isdigit():
        return "".join(str((int(c) + 1) % 10) for c in code)
    return "".join(
        symbols[(symbols.index(c) + 1) % len(symbols)] if c in symbols else "2" for c in code
    )


def check_config(config: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`verify-service check-config --config <config>` in a process of its own, with `env`
    added to this one's environment (mark the test `system`)."""
    return subprocess.run(
        [sys.executable, "-m", "verify_service", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
