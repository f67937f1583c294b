"""Delivery across a service's providers: tried in order, each failure recorded."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from verify_service.providers.base import OutgoingMessage, Provider, ProviderError

log = logging.getLogger("verify_service.delivery")


@dataclass(frozen=True, slots=True)
class SendAttempt:
    at: datetime
    provider: str
    message_id: str | None
    status: str  # sent | failed (delivered / undelivered come later, from reports)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    attempts: list[SendAttempt]
    sent: bool
    recipient_invalid: bool = False


async def deliver(providers: Sequence[Provider], message: OutgoingMessage) -> Delivery:
    """Failover: the first provider that accepts the message wins. A provider that refuses
    the recipient itself ends the delivery: another provider would refuse it too."""
    attempts: list[SendAttempt] = []
    for provider in providers:
        started = time.perf_counter()
        at = datetime.now(UTC)
        try:
            result = await provider.send(message)
        except ProviderError as exc:
            attempts.append(SendAttempt(at, provider.name, None, "failed", exc.reason))
            log.warning(
                "send failed",
                extra={
                    "provider": provider.name,
                    "error": exc.reason,
                    "retryable": exc.retryable,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            if exc.recipient_invalid:
                return Delivery(attempts, sent=False, recipient_invalid=True)
            continue
        attempts.append(SendAttempt(at, provider.name, result.message_id, "sent"))
        log.info(
            "send ok",
            extra={
                "provider": provider.name,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return Delivery(attempts, sent=True)
    return Delivery(attempts, sent=False)
