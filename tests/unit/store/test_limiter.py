"""The rate-limit script against a model written from the definitions of the strategies:
for any sequence of requests over time, it admits exactly what the model admits, counts
a refused request nowhere, and its Retry-After is enough: a request that waits that long
gets through. The script's clock (Redis TIME plus the store's offset) is held still on
fakeredis, so that the model and the script judge the same instants."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

import fakeredis
import limits
import pytest
import redis.asyncio as aioredis
from fakeredis.commands_mixins import server_mixin
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.redis_server import RedisServer
from verify_service.store import Store, keys
from verify_service.store.limiter import EXACT_UP_TO, Layer, RateLimiter, window_mode

FROZEN_S = 1_000.0  # what TIME answers in the property test
BASE_MS = 1_000_000 * 3600_000  # a multiple of every period below: buckets start at 0


@dataclass
class Model:
    """The request stamps each window counted (all windows count the same requests)."""

    windows: list[tuple[str, int, int]]  # (mode, limit, period_ms)
    counted: list[int] = field(default_factory=list)

    def window_allows(self, mode: str, limit: int, period: int, now: int) -> bool:
        if mode == "m":
            return sum(1 for t in self.counted if t > now - period) < limit
        bucket = now // period
        count = sum(1 for t in self.counted if t // period == bucket)
        if mode == "f":
            return count < limit
        previous = sum(1 for t in self.counted if t // period == bucket - 1)
        weight = ((bucket + 1) * period - now) / period
        return previous * weight + count + 1 <= limit

    def allows(self, now: int) -> bool:
        return all(self.window_allows(m, lim, p, now) for m, lim, p in self.windows)


WINDOWS = st.lists(
    st.tuples(
        st.sampled_from(["moving-window", "fixed-window", "sliding-window-counter"]),
        st.integers(1, 4),
        st.sampled_from([1, 2, 5]),
    ),
    min_size=1,
    max_size=3,
)
GAPS = st.lists(st.integers(0, 1500), min_size=1, max_size=25)


async def _run(windows: list[tuple[str, int, int]], gaps: list[int]) -> None:
    store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
    limiter = RateLimiter(store)
    strategy_of = {w[0] for w in windows}
    items = [limits.parse(f"{n}/{s} seconds") for _, n, s in windows]
    modes = [window_mode(w[0], item) for w, item in zip(windows, items, strict=True)]
    model = Model([(m, i.amount, i.get_expiry() * 1000) for m, i in zip(modes, items, strict=True)])
    # one strategy per call: the windows of a layer share it
    strategy = next(iter(strategy_of)) if len(strategy_of) == 1 else "moving-window"
    if len(strategy_of) != 1:
        model.windows = [("m", lim, p) for _, lim, p in model.windows]
    layer = Layer("per_number", keys.tagged("t"), items)
    now = BASE_MS
    for gap in gaps:
        now += gap
        store.clock_offset_ms = now - int(FROZEN_S * 1000)  # the script's clock reads `now`
        refusal = await limiter.hit(strategy, [layer])
        assert (refusal is None) == model.allows(now), (now - BASE_MS, model.counted)
        if refusal is None:
            model.counted.append(now)
        else:
            assert refusal.layer == "per_number"
            assert model.allows(now + refusal.retry_after * 1000)
    await store.aclose()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows=WINDOWS, gaps=GAPS)
# the previous bucket's weight decides: 2 late in one second, the third early in the next
@example(windows=[("sliding-window-counter", 2, 1)], gaps=[800, 100, 300, 100])
# a request exactly one period old has left the moving window
@example(windows=[("moving-window", 1, 1)], gaps=[0, 1000])
def test_the_script_admits_what_the_strategy_defines(
    windows: list[tuple[str, int, int]], gaps: list[int]
) -> None:
    frozen = SimpleNamespace(time=lambda: FROZEN_S)
    with mock.patch.object(server_mixin, "time", frozen):  # fakeredis's TIME reads this
        asyncio.run(_run(windows, gaps))


def test_auto_is_exact_for_small_limits_and_constant_for_large_ones() -> None:
    assert window_mode("auto", limits.parse(f"{EXACT_UP_TO}/hour")) == "m"
    assert window_mode("auto", limits.parse(f"{EXACT_UP_TO + 1}/hour")) == "s"
    assert window_mode("moving-window", limits.parse("1000000/hour")) == "m"


@pytest.mark.redis
async def test_one_hash_per_subject_of_constant_size(redis_server: RedisServer) -> None:
    """Under "auto", a budget of a million costs what a budget of a thousand costs: one
    small hash, with a TTL of twice the window (the counter needs the previous period)."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    store = Store(client)
    await store.load_scripts()
    limiter = RateLimiter(store)
    sizes = {}
    for amount in (1000, 1_000_000):
        item = limits.parse(f"{amount}/hour")
        layer = Layer("global_sends", keys.tagged("g", str(amount)), [item])
        for _ in range(200):
            assert await limiter.hit("auto", [layer]) is None
        key = keys.rate_key(layer.identifier)
        sizes[amount] = await client.memory_usage(key)
        assert 3600 < await client.ttl(key) <= 7200
    assert sizes[1_000_000] <= sizes[1000] + 8
    assert sizes[1000] < 150
    await store.aclose()
