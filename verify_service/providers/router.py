"""Delivery across a service's providers, within a time budget per send.

Each provider is tried in order. A retryable (transient) failure is retried on the same
provider after an exponential backoff with full jitter (or the provider's `Retry-After`,
whichever is longer), at most `retries` times; then the next provider is tried (failover).
An answer that means "not now, not soon" (quota or credits used up, account disabled,
credentials refused: `ProviderError.exhausted`) fails over at once and opens that
provider's breaker: retrying it would only delay the send. A refused recipient ends the
delivery: another provider would refuse the number too. A provider whose circuit breaker
is open is skipped without a request. Every try and every skip is
returned as a `DeliveryAttempt`, recorded as the verification's `send_attempts`."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import anyio

from verify_service.domain.model import SendAttempt
from verify_service.providers.base import OutgoingMessage, Provider, ProviderError, SendResult
from verify_service.providers.breaker import Breaker

log = logging.getLogger("verify_service.delivery")

BACKOFF_BASE = 0.2  # seconds before the first retry, at most (full jitter: 0..base)
BACKOFF_CAP = 2.0  # the backoff window stops doubling here
SKIPPED = "skipped: circuit open"
OUT_OF_TIME = "timeout (send budget exhausted)"  # or this provider's share of it


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try (or skip) of one provider: the `SendAttempt` to record, plus how long the
    provider took in seconds (None for a skip: breaker open or no time left)."""

    at: datetime
    provider: str
    message_id: str | None
    status: Literal["sent", "failed"]  # delivered / undelivered come later, from reports
    error: str | None = None
    seconds: float | None = None

    def record(self, channel: str = "sms") -> SendAttempt:
        return SendAttempt(
            self.at, self.provider, self.message_id, self.status, self.error, channel
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    attempts: list[DeliveryAttempt]
    sent: bool
    recipient_invalid: bool = False

    @property
    def reason(self) -> str | None:
        """The last error, for the caller's problem document."""
        errors = [a.error for a in self.attempts if a.error]
        return errors[-1] if errors else None


class _Tries:
    """The attempts of one delivery, logged as they are made."""

    def __init__(self) -> None:
        self.attempts: list[DeliveryAttempt] = []

    def add(
        self,
        provider: Provider,
        at: datetime,
        status: Literal["sent", "failed"],
        *,
        message_id: str | None = None,
        error: str | None = None,
        started: float | None = None,
    ) -> None:
        seconds = None if started is None else time.monotonic() - started
        self.attempts.append(DeliveryAttempt(at, provider.name, message_id, status, error, seconds))
        extra: dict[str, object] = {"provider": provider.name, "status": status}
        if error is not None:
            extra["error"] = error
        if seconds is not None:
            extra["duration_ms"] = round(seconds * 1000, 1)
        level = logging.INFO if status == "sent" else logging.WARNING
        log.log(level, "send %s via %s", status, provider.name, extra=extra)


class Router:
    """Holds one circuit breaker per provider instance (see breaker.py for why in-process).
    `clock`, `sleep` and `jitter` are injectable so that tests need not wait."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        jitter: Callable[[float], float] | None = None,
        on_breaker: Callable[[str, str], None] | None = None,
    ) -> None:
        self.clock = clock
        # Told (provider name, breaker state) after each provider's turn: metrics, not logic.
        self.on_breaker = on_breaker
        self.sleep = sleep
        # Jitter spreads retries of many requests apart; it needs no unpredictability.
        self.jitter = jitter or (lambda high: random.uniform(0, high))  # noqa: S311
        self._breakers: dict[str, Breaker] = {}

    def breaker(self, provider: Provider) -> Breaker:
        breaker = self._breakers.get(provider.name)
        if breaker is None:
            options = provider.options
            breaker = Breaker(options.breaker_threshold, options.breaker_cooldown, self.clock)
            self._breakers[provider.name] = breaker
        return breaker

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^retry)]; never below Retry-After."""
        delay = self.jitter(min(BACKOFF_CAP, BACKOFF_BASE * 2**retry))
        return max(delay, retry_after or 0.0)

    async def deliver(
        self, providers: Sequence[Provider], message: OutgoingMessage, *, budget: float
    ) -> Delivery:
        deadline = time.monotonic() + budget
        tries = _Tries()
        for index, provider in enumerate(providers):
            breaker = self.breaker(provider)
            try:
                if not breaker.acquire():
                    tries.add(provider, datetime.now(UTC), "failed", error=SKIPPED)
                    continue
                if time.monotonic() >= deadline:
                    breaker.abandoned()
                    tries.add(provider, datetime.now(UTC), "failed", error=OUT_OF_TIME)
                    continue
                # Retries on this provider stop where its share of the remaining budget ends,
                # so that one slow provider cannot starve the ones after it of their turn.
                later = sum(1 for p in providers[index + 1 :] if self.breaker(p).available())
                share_end = time.monotonic() + (deadline - time.monotonic()) / (later + 1)
                outcome = await self._try_provider(
                    provider, breaker, message, deadline, share_end, tries
                )
                if outcome is not None:
                    return Delivery(tries.attempts, sent=outcome, recipient_invalid=not outcome)
            finally:
                if self.on_breaker is not None:
                    self.on_breaker(provider.name, breaker.state)

        return Delivery(tries.attempts, sent=False)

    async def _try_provider(
        self,
        provider: Provider,
        breaker: Breaker,
        message: OutgoingMessage,
        deadline: float,
        share_end: float,
        tries: _Tries,
    ) -> bool | None:
        """True: sent. False: the recipient was refused (stop). None: try the next one."""
        retry = 0
        while True:
            started = time.monotonic()
            at = datetime.now(UTC)
            try:
                result = await self._send_once(provider, message, min(deadline, share_end))
            except ProviderError as exc:
                tries.add(provider, at, "failed", error=exc.reason, started=started)
                if exc.recipient_invalid:
                    breaker.succeeded()  # the provider answered: it is up
                    return False
                if exc.exhausted:
                    self._failed(provider, breaker, trip=True)
                    return None
                self._failed(provider, breaker)
                if not exc.retryable or retry >= provider.options.retries:
                    return None
                delay = self.backoff(retry, exc.retry_after)
                # A retry must start early enough to have a chance: never sleep past the
                # budget (or this provider's share of it); fail over instead.
                if time.monotonic() + delay >= min(deadline, share_end):
                    return None
                if not breaker.acquire():
                    return None  # this failure opened the breaker
                await self.sleep(delay)
                retry += 1
                continue
            except BaseException:
                breaker.abandoned()
                raise
            breaker.succeeded()
            tries.add(provider, at, "sent", message_id=result.message_id, started=started)
            return True

    @staticmethod
    def _failed(provider: Provider, breaker: Breaker, *, trip: bool = False) -> None:
        was_open = breaker.opened_at is not None and not breaker.probing
        if trip:
            breaker.trip()
        else:
            breaker.failed()
        if breaker.opened_at is not None and not was_open:
            log.warning(
                "circuit opened for %s: skipped for %s s",
                provider.name,
                breaker.cooldown,
                extra={"provider": provider.name, "failures": breaker.failures},
            )

    async def _send_once(
        self, provider: Provider, message: OutgoingMessage, until: float
    ) -> SendResult:
        # The provider's `timeout` bounds one attempt in all (httpx's is per phase), and the
        # budget bounds every attempt: a send still running at the deadline is abandoned.
        left = until - time.monotonic()
        if left <= 0:
            raise ProviderError(OUT_OF_TIME, retryable=True)
        limit = min(provider.options.timeout, left)
        # anyio's move_on_after, not asyncio.timeout: its cancellation is re-delivered at
        # every await until the send leaves the scope, so a send that swallows one cancel
        # (Python 3.11's asyncio.wait_for returns a result that came with it; aiosmtplib
        # waits on each reply so) is still cut off; asyncio.timeout cancels once.
        with anyio.move_on_after(limit):
            try:
                return await provider.send(message)
            except ProviderError:
                raise
            except Exception as exc:
                # A bug in one adapter (say, an answer of a shape it did not expect) must
                # not cost the send when another provider could deliver: fail over.
                log.exception("provider %s raised instead of ProviderError", provider.name)
                raise ProviderError(
                    f"internal error ({type(exc).__name__})", retryable=False
                ) from exc
        raise ProviderError(
            OUT_OF_TIME if limit < provider.options.timeout else "timeout", retryable=True
        )
