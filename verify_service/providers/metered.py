"""A provider wrapped so that every send attempt is timed and reported to a callback.

Wrapping the provider rather than the router keeps the measurement next to the call that
costs the time, whatever the router does around it (retries, failover, breakers), and
keeps metrics out of provider and router code: they only see a `Provider`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Literal

from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    Provider,
    ProviderError,
    SendResult,
)

# How a send attempt ended; `skipped` is the router's: not tried (breaker open, no time).
SendOutcome = Literal[
    "sent", "retryable_error", "permanent_error", "recipient_invalid", "internal_error", "skipped"
]

# Told (provider name, outcome, seconds) after each send.
SendObserver = Callable[[str, SendOutcome, float], None]


def outcome_of(exc: ProviderError) -> SendOutcome:
    if exc.recipient_invalid:
        return "recipient_invalid"
    return "retryable_error" if exc.retryable else "permanent_error"


class MeteredProvider(Provider):
    kind = "metered"

    def __init__(self, inner: Provider, observe: SendObserver) -> None:
        super().__init__(inner.name, inner.options)
        self.inner = inner
        self._observe = observe

    async def send(self, message: OutgoingMessage) -> SendResult:
        started = time.perf_counter()
        try:
            result = await self.inner.send(message)
        except ProviderError as exc:
            self._observe(self.name, outcome_of(exc), time.perf_counter() - started)
            raise
        except Exception:
            self._observe(self.name, "internal_error", time.perf_counter() - started)
            raise
        self._observe(self.name, "sent", time.perf_counter() - started)
        return result

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        return self.inner.parse_reports(body, headers)

    async def aclose(self) -> None:
        await self.inner.aclose()
