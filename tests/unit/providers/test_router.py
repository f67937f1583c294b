"""The router on its own: retries, backoff, the send budget, failover, the breaker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from tests.support.fake_providers import (
    OK,
    ScriptedProvider,
    bad_credentials,
    refused_number,
    unavailable,
)
from verify_service.providers.base import OutgoingMessage, ProviderOptions
from verify_service.providers.router import OUT_OF_TIME, SKIPPED, Router

MESSAGE = OutgoingMessage(to="+41791234567", text="Your code is 123456", reference="ver_x.1")


def scripted(name: str, *plan: Any, **options: Any) -> ScriptedProvider:
    provider = ScriptedProvider(name, ProviderOptions(kind="scripted", **options))
    provider.plan = list(plan)
    return provider


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records the delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def summary(delivery: Any) -> list[tuple[str, str, str | None]]:
    return [(a.provider, a.status, a.error) for a in delivery.attempts]


async def test_first_provider_down_second_delivers() -> None:
    a = scripted("a", unavailable(), unavailable(), retries=1)
    b = scripted("b")
    delivery = await Router(sleep=Sleeps()).deliver([a, b], MESSAGE, budget=5)
    assert delivery.sent
    assert summary(delivery) == [
        ("a", "failed", "HTTP 503: unavailable"),
        ("a", "failed", "HTTP 503: unavailable"),
        ("b", "sent", None),
    ]
    assert delivery.attempts[-1].message_id == "b-1"


async def test_retry_succeeds_on_the_same_provider_after_a_jittered_backoff() -> None:
    sleeps = Sleeps()
    a = scripted("a", unavailable(), unavailable(), OK, retries=2)
    b = scripted("b")
    router = Router(sleep=sleeps, jitter=lambda high: high)  # the top of each window
    delivery = await router.deliver([a, b], MESSAGE, budget=60)
    assert summary(delivery)[-1] == ("a", "sent", None)
    assert sleeps.delays == [0.2, 0.4]  # exponential
    assert b.calls == []


def test_backoff_is_full_jitter_capped_and_never_below_retry_after() -> None:
    router = Router(jitter=lambda high: high)
    assert [router.backoff(n, None) for n in range(6)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert router.backoff(0, 1.5) == 1.5
    low = Router(jitter=lambda high: 0.0)
    assert low.backoff(3, None) == 0.0


async def test_a_permanent_provider_error_fails_over_without_retrying() -> None:
    a = scripted("a", bad_credentials(), retries=3)
    b = scripted("b")
    delivery = await Router(sleep=Sleeps()).deliver([a, b], MESSAGE, budget=5)
    assert [x.provider for x in delivery.attempts] == ["a", "b"]
    assert len(a.calls) == 1


async def test_a_refused_number_ends_delivery_without_failover() -> None:
    a = scripted("a", refused_number(), retries=3)
    b = scripted("b")
    delivery = await Router(sleep=Sleeps()).deliver([a, b], MESSAGE, budget=5)
    assert not delivery.sent
    assert delivery.recipient_invalid
    assert b.calls == []
    assert delivery.reason == "unknown subscriber"


async def test_all_failing_reports_every_attempt() -> None:
    a = scripted("a", retries=0)
    a.default = unavailable()
    b = scripted("b", retries=0)
    b.default = bad_credentials()
    delivery = await Router().deliver([a, b], MESSAGE, budget=5)
    assert not delivery.sent
    assert not delivery.recipient_invalid
    assert [x.provider for x in delivery.attempts] == ["a", "b"]


async def test_retry_after_is_honoured_in_real_time() -> None:
    a = scripted("a", unavailable(retry_after=0.15), OK, retries=1)
    started = time.monotonic()
    delivery = await Router(jitter=lambda high: 0.0).deliver([a], MESSAGE, budget=2)
    elapsed = time.monotonic() - started
    assert delivery.sent
    assert len(a.calls) == 2
    assert 0.15 <= elapsed < 1.0


async def test_retry_after_past_the_budget_is_not_waited_for() -> None:
    a = scripted("a", unavailable(retry_after=30), OK, retries=1)
    b = scripted("b")
    sleeps = Sleeps()
    delivery = await Router(sleep=sleeps).deliver([a, b], MESSAGE, budget=1)
    assert sleeps.delays == []  # failed over at once instead of sleeping past the budget
    assert summary(delivery) == [("a", "failed", "HTTP 503: unavailable"), ("b", "sent", None)]
    assert len(a.calls) == 1


async def test_retry_after_past_the_budget_with_one_provider_gives_up_quickly() -> None:
    a = scripted("a", unavailable(retry_after=30), OK, retries=3)
    started = time.monotonic()
    delivery = await Router().deliver([a], MESSAGE, budget=0.5)
    assert not delivery.sent
    assert time.monotonic() - started < 0.3
    assert len(a.calls) == 1


class Hanging(ScriptedProvider):
    """Never answers: only the router's timeouts end a send."""

    async def send(self, message: OutgoingMessage) -> Any:
        self.calls.append(message)
        await asyncio.sleep(3600)


async def test_a_hanging_provider_is_cut_at_its_timeout_and_the_next_one_delivers() -> None:
    a = Hanging("a", ProviderOptions(kind="scripted", timeout=0.1, retries=0))
    b = scripted("b")
    started = time.monotonic()
    delivery = await Router().deliver([a, b], MESSAGE, budget=2)
    assert time.monotonic() - started < 0.5
    assert summary(delivery) == [("a", "failed", "timeout"), ("b", "sent", None)]


async def test_the_budget_bounds_a_provider_slower_than_its_timeout_allows() -> None:
    a = Hanging("a", ProviderOptions(kind="scripted", timeout=30, retries=2))
    started = time.monotonic()
    delivery = await Router().deliver([a], MESSAGE, budget=0.2)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 0.5
    assert summary(delivery) == [("a", "failed", OUT_OF_TIME)]


async def test_a_slow_first_provider_leaves_the_second_its_share_of_the_budget() -> None:
    a = Hanging("a", ProviderOptions(kind="scripted", timeout=30, retries=2))
    b = scripted("b")
    started = time.monotonic()
    delivery = await Router().deliver([a, b], MESSAGE, budget=0.4)
    assert time.monotonic() - started < 0.4
    assert summary(delivery) == [("a", "failed", OUT_OF_TIME), ("b", "sent", None)]


# --- circuit breaker ------------------------------------------------------------------------


async def test_breaker_skips_a_failing_provider_then_probes_after_the_cooldown() -> None:
    clock = FakeClock()
    router = Router(clock=clock, sleep=Sleeps())
    a = scripted("a", retries=0, breaker_threshold=2, breaker_cooldown=30)
    a.default = unavailable()
    b = scripted("b")

    for _ in range(2):  # two consecutive failures open the breaker
        delivery = await router.deliver([a, b], MESSAGE, budget=5)
        assert summary(delivery)[0] == ("a", "failed", "HTTP 503: unavailable")
    assert len(a.calls) == 2

    delivery = await router.deliver([a, b], MESSAGE, budget=5)
    assert summary(delivery) == [("a", "failed", SKIPPED), ("b", "sent", None)]
    assert len(a.calls) == 2  # skipped without a request
    assert delivery.attempts[0].seconds is None

    clock.now += 29.9
    await router.deliver([a, b], MESSAGE, budget=5)
    assert len(a.calls) == 2

    clock.now += 0.1  # cool-down over: one probe, which fails and re-opens the breaker
    await router.deliver([a, b], MESSAGE, budget=5)
    assert len(a.calls) == 3
    await router.deliver([a, b], MESSAGE, budget=5)
    assert len(a.calls) == 3

    clock.now += 30
    a.default = OK  # the probe succeeds: closed again, every send goes to `a`
    delivery = await router.deliver([a, b], MESSAGE, budget=5)
    assert summary(delivery) == [("a", "sent", None)]
    await router.deliver([a, b], MESSAGE, budget=5)
    assert len(a.calls) == 5


async def test_breaker_counts_only_consecutive_failures() -> None:
    router = Router(sleep=Sleeps())
    a = scripted("a", unavailable(), OK, unavailable(), OK, retries=0, breaker_threshold=2)
    b = scripted("b")
    for _ in range(4):
        await router.deliver([a, b], MESSAGE, budget=5)
    assert len(a.calls) == 4
    assert router.breaker(a).state == "closed"


async def test_a_failure_that_opens_the_breaker_stops_the_retries() -> None:
    sleeps = Sleeps()
    a = scripted("a", retries=5, breaker_threshold=2)
    a.default = unavailable()
    delivery = await Router(sleep=sleeps).deliver([a], MESSAGE, budget=5)
    assert len(a.calls) == 2
    assert len(sleeps.delays) == 1
    assert not delivery.sent


async def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    router = Router(clock=clock)
    gate = asyncio.Event()

    class Gated(ScriptedProvider):
        async def send(self, message: OutgoingMessage) -> Any:
            await gate.wait()
            return await super().send(message)

    a = Gated("a", ProviderOptions(kind="scripted", retries=0, breaker_threshold=1))
    a.plan = [unavailable()]
    b = scripted("b")
    gate.set()
    await router.deliver([a, b], MESSAGE, budget=5)  # opens the breaker
    clock.now += 60
    gate.clear()
    probe = asyncio.create_task(router.deliver([a, b], MESSAGE, budget=5))
    await asyncio.sleep(0.01)  # the probe is in flight, waiting at the gate
    other = await router.deliver([a, b], MESSAGE, budget=5)
    assert summary(other) == [("a", "failed", SKIPPED), ("b", "sent", None)]
    gate.set()
    assert summary(await probe) == [("a", "sent", None)]
    assert router.breaker(a).state == "closed"


async def test_a_cancelled_probe_frees_the_half_open_slot() -> None:
    clock = FakeClock()
    router = Router(clock=clock)
    a = Hanging("a", ProviderOptions(kind="scripted", retries=0, breaker_threshold=1))
    breaker = router.breaker(a)
    breaker.failed()
    clock.now += 60
    task = asyncio.create_task(router.deliver([a], MESSAGE, budget=5))
    await asyncio.sleep(0.01)
    assert breaker.probing
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.available()


async def test_an_adapter_bug_fails_over_instead_of_failing_the_request() -> None:
    class Buggy(ScriptedProvider):
        async def send(self, message: OutgoingMessage) -> Any:
            self.calls.append(message)
            return {}["message_id"]

    a = Buggy("a", ProviderOptions(kind="scripted", retries=3))
    b = scripted("b")
    delivery = await Router().deliver([a, b], MESSAGE, budget=5)
    assert summary(delivery) == [("a", "failed", "internal error (KeyError)"), ("b", "sent", None)]
    assert len(a.calls) == 1


class SwallowsOneCancel(ScriptedProvider):
    """Takes the cut-off's cancellation for an answer once, and goes on: what Python 3.11's
    `asyncio.wait_for` does when its inner future completes as the cancel comes (it
    returns the result; aiosmtplib waits for each SMTP reply so), or an adapter that
    awaits a clean-up (a goodbye to the server) when cancelled."""

    async def send(self, message: OutgoingMessage) -> Any:
        self.calls.append(message)
        # the answer that the cut-off interrupts "arrived" with the cancel
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)  # the exchange's next step
        return await super().send(message)


async def test_the_cut_off_holds_when_a_send_swallows_its_first_cancel() -> None:
    a = SwallowsOneCancel("a", ProviderOptions(kind="scripted", timeout=0.1, retries=0))
    b = scripted("b")
    started = time.monotonic()
    delivery = await asyncio.wait_for(Router().deliver([a, b], MESSAGE, budget=2), 5)
    assert time.monotonic() - started < 0.5
    assert summary(delivery) == [("a", "failed", "timeout"), ("b", "sent", None)]
