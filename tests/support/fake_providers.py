"""Providers for delivery tests: a scripted in-process one, and an HTTP one that talks to a
loopback fake server (tests/support/fake_http.py; for timing: real sockets, real timeouts)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from tests.support.fake_http import FakeServer, Recorded, Reply
from verify_service.providers import registry
from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, status_error

OK = "ok"


def unavailable(retry_after: float | None = None) -> ProviderError:
    return ProviderError("HTTP 503: unavailable", retryable=True, retry_after=retry_after)


def bad_credentials() -> ProviderError:
    return ProviderError("HTTP 401: bad credentials", retryable=False)


def refused_number() -> ProviderError:
    return ProviderError("unknown subscriber", retryable=False, recipient_invalid=True)


class ScriptedProvider(Provider):
    """Follows `plan` (one step per send: OK or a ProviderError), then `default`. Keeps every
    message it was given, sent or not, so tests can try the code of a failed send.

    Its reports are a JSON list of {"id", "status", "detail"?}; a PUT with a `Location`
    header is one report for the message at the end of that URL (Swisscom's style)."""

    kind: ClassVar[str] = "scripted"

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        self.plan: list[str | ProviderError] = []
        self.default: str | ProviderError = OK
        self.calls: list[OutgoingMessage] = []
        self.sent_ids: list[str] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls.append(message)
        step = self.plan.pop(0) if self.plan else self.default
        if isinstance(step, ProviderError):
            raise step
        message_id = f"{self.name}-{len(self.calls)}"
        self.sent_ids.append(message_id)
        return SendResult(message_id=message_id)

    def last_code(self) -> str:
        return self.calls[-1].text.rsplit(" ", 1)[-1]

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        try:
            data = json.loads(body)
            location = headers.get("location")
            if location:
                return [DeliveryReport(location.rsplit("/", 1)[-1], data["status"].lower())]
            if not isinstance(data, list):
                raise ValueError("expected a list")
            return [DeliveryReport(r["id"], r["status"], r.get("detail")) for r in data]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(str(exc)) from None

    def report_answer(self) -> dict[str, Any]:
        return {"statusCode": 2000, "statusMessage": "OK"}


class LoopbackProvider(HttpProvider):
    """POSTs {"to", "text"} to `base_url`; 200 {"id"} is success, anything else an error."""

    kind: ClassVar[str] = "loopback"

    async def send(self, message: OutgoingMessage) -> SendResult:
        response = await self.request(
            "POST", self.base_url, json={"to": message.to, "text": message.text}
        )
        if response.status_code != 200:
            raise status_error(response, "refused")
        return SendResult(message_id=str(response.json()["id"]))


@pytest.fixture
def fake_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.KINDS, ScriptedProvider.kind, ScriptedProvider)
    monkeypatch.setitem(registry.KINDS, LoopbackProvider.kind, LoopbackProvider)


@dataclass
class Route:
    """What the fake server does on one path: wait `delay` seconds, then answer
    {"id": "<path>-<hits>"} with `status` and `headers`."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def __call__(self, request: Recorded) -> Reply:
        self.hits += 1
        message_id = f"{request.path.strip('/')}-{self.hits}"
        return Reply(self.status, json={"id": message_id}, headers=self.headers, delay=self.delay)


@dataclass
class FakeSmsServer:
    http: FakeServer

    def url(self, path: str) -> str:
        return self.http.url + path


@contextmanager
def fake_sms_server(routes: dict[str, Route]) -> Iterator[FakeSmsServer]:
    """The loopback API of `LoopbackProvider`: POST to one of `routes`; others get 404."""
    with FakeServer({f"POST {path}": route for path, route in routes.items()}) as http:
        yield FakeSmsServer(http)
