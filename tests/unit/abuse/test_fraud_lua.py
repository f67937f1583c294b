"""The pumping guard's Lua, made cheaper in wave 5 (docs/performance.md, "Wave 5: the
pumping guard's Lua"), decides exactly as the scripts it replaced: the same streams of
starts, approvals, lifts, allow-list changes and clock steps run through the scripts of
wave 4 (`tests/support/fraud_v4/`, verbatim) and through today's, on fakeredis and on a
redis-server, give the same reply to every call and the same counters, blocks and
indexes; also when today's scripts take over counters the old ones wrote (an upgrade)
and when the old ones read what today's wrote (a rolling deploy). The counters' text
reads back as the '%.6g' text of the first shape did, to the last bit."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import verify_service
from tests.support.redis_server import RedisServer
from verify_service.abuse.fraud import LEVEL_CONFIDENCE, MODES, guard_args
from verify_service.abuse.ranges import prefixes_of, ranges_of
from verify_service.config.abuse import FraudGuard
from verify_service.store import Store, keys
from verify_service.store.fraud import REPEAT_WINDOW, GuardArgs

SCRIPTS = Path(verify_service.__file__).parent / "store" / "scripts"
OLD = Path(__file__).parents[2] / "support" / "fraud_v4"
PRELUDE = (SCRIPTS / "_prelude.lua").read_text()
# The clock is the first argument itself (ms), so that both versions judge at the same
# instant whatever Redis's own clock reads between their calls.
FIXED_CLOCK = "local function now_ms(clock_offset_ms) return tonumber(clock_offset_ms) end\n"
T0 = 1_764_000_000_000

# A pumping list (sequential numbers of one 100-block, then the next), real users in the
# same NDC and elsewhere, and numbers a short clock-less test would put under 1e12 ms.
NUMBERS = [
    *(f"+49152110000{i:02d}" for i in range(6)),
    *(f"+49152110001{i:02d}" for i in range(3)),
    "+4917612345678",
    "+4917687654321",
    "+41791234567",
    "+41798765432",
    "+14155552671",
    "+33612345678",
]


def _source(directory: Path, name: str) -> str:
    return f"{PRELUDE}\n{FIXED_CLOCK}{(directory / f'{name}.lua').read_text()}"


class Guard:
    """One version's fraud_start / fraud_approve (plus today's fraud_lift and an allow-list
    written as fraud_allow.lua writes it) on one service's keys."""

    def __init__(self, client: Any, service: str, directory: Path, args: GuardArgs) -> None:
        self.client = client
        self.service = service
        self.keys = keys.fraud_keys(service)
        self.args = args
        self.scripts = {
            name: client.register_script(_source(directory, name))
            for name in ("fraud_start", "fraud_approve")
        }
        self.lift_script = client.register_script(_source(SCRIPTS, "fraud_lift"))

    async def start(self, now: int, e164: str, allowed: bool) -> Any:
        ranges = ranges_of(e164)
        z = MODES["standard"].z
        k = self.keys
        return await self.scripts["fraud_start"](
            keys=[k.ranges, k.lru, k.blocks, k.allow, k.seen],
            args=[
                now,
                *self.args.argv(),
                "1" if allowed else "0",
                " ".join(r.prefix for r in ranges),
                " ".join(r.level for r in ranges),
                " ".join(repr(z * LEVEL_CONFIDENCE.get(r.level, 1.0)) for r in ranges),
                " ".join(prefixes_of(e164)),
                keys.number_digest("svc", e164),
                REPEAT_WINDOW * 1000,
            ],
        )

    async def approve(self, now: int, e164: str) -> Any:
        a = self.args
        return await self.scripts["fraud_approve"](
            keys=[self.keys.ranges, self.keys.lru],
            args=[
                now,
                a.window_ms,
                a.baseline_ms,
                a.ttl_ms,
                " ".join(r.prefix for r in ranges_of(e164)),
            ],
        )

    async def lift(self, now: int, prefix: str) -> Any:
        k = self.keys
        return await self.lift_script(
            keys=[k.ranges, k.blocks, k.lifts], args=[now, prefix, "op", 50, 86400_000]
        )

    async def allow(self, prefix: str, on: bool) -> None:
        if on:
            await self.client.hset(self.keys.allow, prefix, "0 op")
        else:
            await self.client.hdel(self.keys.allow, prefix)

    async def state(self) -> dict[str, Any]:
        """What the guard keeps, the counters as the numbers they read as."""
        k, c = self.keys, self.client
        ranges = await c.hgetall(k.ranges)
        return {
            "ranges": {f: tuple(float(x) for x in v.split()) for f, v in ranges.items()},
            "blocks": await c.hgetall(k.blocks),
            "lru": await c.zrange(k.lru, 0, -1, withscores=True),
            "seen": await c.zrange(k.seen, 0, -1, withscores=True),
            "lifts": await c.lrange(k.lifts, 0, -1),
        }


# ms between two calls: the same instant, bursts, a user's pace, hours, days (counters
# that decay below the fixed-width shape's range and blocks that are forgotten).
GAPS = st.sampled_from(
    [0, 0, 1, 3, 250, 4_000, 90_000, 599_999, 600_000, 3_600_000, 26 * 3_600_000, 9 * 86_400_000]
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.integers(0, len(NUMBERS) - 1), st.booleans(), GAPS),
        st.tuples(st.just("start"), st.integers(0, 8), st.just(False), GAPS),  # pumping
        st.tuples(st.just("start"), st.integers(0, 8), st.just(False), st.sampled_from([0, 1])),
        # the number started last, again, at the edge of the repeat window (10 min)
        st.tuples(
            st.just("again"), st.just(0), st.just(False), st.sampled_from([599_999, 600_000])
        ),
        st.tuples(st.just("approve"), st.integers(0, len(NUMBERS) - 1), st.just(False), GAPS),
        st.tuples(st.just("lift"), st.integers(0, len(NUMBERS) - 1), st.booleans(), GAPS),
        st.tuples(st.just("allow"), st.integers(0, len(NUMBERS) - 1), st.booleans(), GAPS),
    ),
    min_size=1,
    max_size=60,
)
SETUP = st.tuples(
    st.sampled_from(sorted(MODES)),
    st.sampled_from([3, 12, 20_000]),  # max_ranges: the LRU and the repeat filter trimmed
    st.sampled_from([T0, 5_000_000]),  # a clock under 1e12 ms: the first shape throughout
    st.integers(0, 60),  # calls the old scripts make on today's side before they take over
)


async def _same_decisions(client: Any, ops: list[Any], setup: tuple[str, int, int, int]) -> None:
    mode, max_ranges, now, upgrade_at = setup
    args = dataclasses.replace(guard_args(FraudGuard(mode=mode)), max_ranges=max_ranges)  # type: ignore[arg-type]
    old = Guard(client, "old", OLD, args)
    new = Guard(client, "new", SCRIPTS, args)
    # the same calls on today's side made by the old scripts first: counters of the first
    # shape that today's scripts then read and write on
    earlier = Guard(client, "new", OLD, args)
    last = NUMBERS[0]
    for i, (kind, n, flag, gap) in enumerate(ops):
        now += gap
        e164 = last if kind == "again" else NUMBERS[n]
        if kind == "again":
            kind = "start"
        if kind == "start":
            last = e164
        replies = []
        for guard in (old, earlier if i < upgrade_at else new):
            if kind == "start":
                replies.append(await guard.start(now, e164, flag))
            elif kind == "approve":
                replies.append(await guard.approve(now, e164))
            elif kind == "lift":
                prefix = ranges_of(e164)[-1 if flag else 1].prefix
                replies.append(await guard.lift(now, prefix))
            else:
                await guard.allow(ranges_of(e164)[2].prefix, flag)
        if replies:
            assert replies[0] == replies[1], (i, kind, e164)
    assert await old.state() == await new.state()
    # and the old scripts go on reading today's counters as they read their own
    for kind, n, flag, _gap in ops[:10]:
        if kind == "start":
            now += 1000
            assert await old.start(now, NUMBERS[n], flag) == await earlier.start(
                now, NUMBERS[n], flag
            )
    assert await old.state() == await new.state()


@settings(max_examples=100, deadline=None)
@given(ops=OPS, setup=SETUP)
async def test_the_same_decisions_as_the_wave_4_scripts_on_fakeredis(
    ops: list[Any], setup: tuple[str, int, int, int]
) -> None:
    store = Store.embedded()
    await _same_decisions(store.client, ops, setup)
    await store.aclose()


@pytest.mark.redis
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, setup=SETUP)
async def test_the_same_decisions_as_the_wave_4_scripts_on_redis(
    redis_server: RedisServer, ops: list[Any], setup: tuple[str, int, int, int]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    await _same_decisions(client, ops, setup)
    await client.aclose()


# For each count: the text today's scripts write, read back by them (counters_of) and by the
# first shape's pattern and tonumber, against tonumber(string.format('%.6g', x)).
_CODEC = (
    PRELUDE
    + """
local out = {}
for i = 1, #ARGV do
  local x = tonumber(ARGV[i])
  local want = tonumber(string.format('%.6g', x))
  local text = counters_text(x, x, 0, x, '1764000000000', 0)
  local s, a, S, A, t, u = counters_of(text)
  local s1, a1, S1, A1, t1, u1 = string.match(text, '^(%S+) (%S+) (%S+) (%S+) (%S+) ?(%S*)$')
  local ok = s == want and a == want and S == 0 and A == want and t == 1764000000000 and u == 0
    and tonumber(s1) == want and tonumber(A1) == want and tonumber(t1) == t and u1 == '0'
  local fixed = #text == 63 and string.byte(text, 8) == 101 and string.byte(text, 62) == 32
  out[#out + 1] = (ok and 'ok' or ('bad ' .. text)) .. (fixed and ' fixed' or ' format')
end
return out
"""
)
COUNTS = st.one_of(
    st.floats(min_value=0, max_value=1e30, allow_nan=False),
    st.integers(0, 10**9).map(float),
    st.tuples(st.integers(0, 10**7), st.integers(-20, 10)).map(lambda t: t[0] * 10.0 ** t[1]),
    st.tuples(st.integers(1, 999_999), st.integers(-20, 20)).map(
        lambda t: (t[0] + 0.5) * 10.0 ** t[1]
    ),
)


async def _codec(client: Any, counts: list[float]) -> list[str]:
    return list(await client.eval(_CODEC, 0, *(repr(x) for x in counts)))


@settings(max_examples=80, deadline=None)
@given(st.lists(COUNTS, min_size=1, max_size=50))
async def test_counters_read_back_as_the_6_digit_text_did_on_fakeredis(counts: list[float]) -> None:
    store = Store.embedded()
    results = await _codec(store.client, counts)
    assert all(r.startswith("ok") for r in results), results
    await store.aclose()


@pytest.mark.redis
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(COUNTS, min_size=1, max_size=50))
async def test_counters_read_back_as_the_6_digit_text_did_on_redis(
    redis_server: RedisServer, counts: list[float]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    results = await _codec(client, counts)
    assert all(r.startswith("ok") for r in results), results
    await client.aclose()


@pytest.mark.parametrize("backend", ["fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
async def test_counts_are_written_in_the_fixed_width_shape(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """Every count is written '%.5e' and the time in 13 digits: a record of 63 characters
    that today's scripts read by position (counts beyond e+/-17 by the pattern, exactly)."""
    if backend == "fakeredis":
        client: Any = Store.embedded().client
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = aioredis.Redis.from_url(server.url, decode_responses=True)
    counts = [0.0, 1.0, 2.718281828, 0.000123456789, 3999.99917, 123456.789, 1e-12, 7e9]
    assert await _codec(client, [*counts, 1e-30, 1e27]) == ["ok fixed"] * (len(counts) + 2)
    await client.aclose()
