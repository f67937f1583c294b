"""Fixtures for provider tests: fake provider servers on loopback, providers built from
config the way the app builds them (and closed afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.support.fake_http import FakeServer, Handler
from verify_service.providers.base import OutgoingMessage, Provider
from verify_service.providers.registry import build_provider

TO = "+41791234567"
TEXT = "Your code is 482913"
MESSAGE = OutgoingMessage(to=TO, text=TEXT, reference="ver_abc.1")


MakeProvider = Callable[[Mapping[str, Any]], Provider]


@pytest.fixture
def start_fake() -> Iterator[Callable[[Handler], FakeServer]]:
    servers: list[FakeServer] = []

    def start(handler: Handler) -> FakeServer:
        server = FakeServer(handler).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def make_provider() -> AsyncIterator[MakeProvider]:
    providers: list[Provider] = []

    def make(config: Mapping[str, Any]) -> Provider:
        provider = build_provider("test", config)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()
