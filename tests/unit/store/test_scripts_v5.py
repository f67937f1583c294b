"""The verification scripts and the rate limits, made cheaper in wave 6 (docs/performance.md,
"Wave 6: the verification scripts and the rate limits"), behave exactly as the scripts
they replaced: random streams of starts, sends, checks, approvals, cancels, reads, delivery
reports, workflow steps, rate-limit counts and clock steps, over verifications of today's
format and of the first one, run through the previous version (`tests/support/core_v5/`,
main's prelude and scripts verbatim; a script it lacks is today's text after that prelude)
and through today's, on fakeredis and on a redis-server. Every reply is the same, and so
is everything stored (hashes, pointers, indexes, counters, their TTLs); also when the two
versions take turns on the same keys, as during a rolling deploy or after an upgrade with
verifications pending. The one intended difference: a rate-limit key of counters gets its
TTL when a count starts a bucket, not on every count, so its TTL may be shorter than the
previous version's, never shorter than its current bucket's successor needs
(test_a_counters_key_outlives_its_next_bucket)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

import verify_service
from tests.support.redis_server import RedisServer
from verify_service.store import Store

SCRIPTS = Path(verify_service.__file__).parent / "store" / "scripts"
OLD = Path(__file__).parents[2] / "support" / "core_v5"
NAMES = (
    "start",
    "record_send",
    "reserve",
    "finish",
    "end_pending",
    "fetch",
    "report",
    "workflow_step",
    "ratelimit",
)
# The clock is the first argument itself (ms): both versions judge at the same instant.
FIXED_CLOCK = "local function now_ms(clock_offset_ms) return tonumber(clock_offset_ms) end\n"
T0 = 1_764_000_000_000
NUMBERS = ("+41790000001", "+41790000002", "+41790000003")
# ms between two calls: the same instant, a user's pace, a code's life, past a window
GAPS = (0, 0, 0, 1, 999, 999, 5_000, 30_000, 61_000, 600_001, 3_600_000)
# a layer's windows (mode, limit, period ms): small ones exact, large ones counted
LAYERS = (
    (("m", 2, 60_000), ("m", 3, 600_000)),
    (("s", 3, 60_000),),
    (("f", 2, 60_000), ("s", 150, 3_600_000)),
)
RETENTION = "3600"
LONG_METADATA = json.dumps({"note": "x" * 80})  # a value over 64 bytes: not a listpack


def _text(directory: Path, name: str) -> str:
    own = directory / f"{name}.lua"
    body = (own if own.exists() else SCRIPTS / f"{name}.lua").read_text()
    return f"{(directory / '_prelude.lua').read_text()}\n{FIXED_CLOCK}{body}"


class Version:
    """One version's scripts on one client; `side` ('a', 'b', ...) names its keys."""

    def __init__(self, client: Any, directory: Path) -> None:
        self.new_layout = directory == SCRIPTS  # ratelimit's arguments: fields first
        self.scripts = {n: client.register_script(_text(directory, n)) for n in NAMES}

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self.scripts[name](keys=list(keys), args=list(args))

    def ratelimit_args(self, now: int, layers: Sequence[int]) -> list[Any]:
        args: list[Any] = [now]
        for layer in layers:
            windows = LAYERS[layer]
            fields = [f"{m}{limit}/{period}" for m, limit, period in windows]
            specs = [x for window in windows for x in window]  # mode, limit, period each
            if self.new_layout:
                args += [len(windows), *fields, *specs]
            else:  # each window's field, mode, limit, period in turn
                args.append(len(windows))
                for field, window in zip(fields, windows, strict=True):
                    args += [field, *window]
        return args


def _op(rng: random.Random, ids: dict[str, int], sent: list[int], n: int) -> tuple[Any, ...]:
    """One random call: its kind and arguments (the same for every version); `ids`: the
    verifications started so far, and the number of each; `sent`: the calls that sent."""
    number = rng.randrange(len(NUMBERS))
    known = rng.choice(sorted(ids)) if ids and rng.random() < 0.9 else "ver_unknown"
    kind = rng.choice(
        ["start"] * 3 + ["send"] * 2 + ["reserve"] * 3 + ["finish", "end", "fetch", "report"]
        + ["step", "limit", "limit", "first"]
    )  # fmt: skip
    if kind == "start":
        return (
            kind,
            number,
            f"ver_{n}",
            rng.choice(["60", "600"]),
            rng.choice(["1", "2", "3"]),
            rng.choice(["1", "2", "3"]),
            rng.choice(["0", "0", "30"]),
            *rng.choice([("numeric", "6"), ("alphanumeric", "8")]),
            rng.choice(["", "", '{"a":"b"}', LONG_METADATA]),
        )
    if kind == "send":
        lines = [f"{n:x}|{rng.choice('sf')}|s|p{k}|m{n}.{k}|" for k in range(rng.randint(0, 2))]
        sent = rng.choice(["1", "1", "1", "0"])
        return (kind, known, "\n".join(lines), sent, rng.choice([f"h{n}", f"h{n}", ""]))
    if kind == "reserve":
        shape = rng.choice([("", ""), ("6", ",numeric,"), ("8", ",alphanumeric,"), ("6", ",x,")])
        service = "login" if rng.random() < 0.9 else "other"
        return (kind, number, rng.choice([known, ""]), service, *shape)
    if kind == "finish":
        return (kind, known, rng.choice(["approved", "max_attempts_reached"]))
    if kind == "end":
        return (kind, known, rng.choice(["approved", "canceled"]))
    if kind == "report":
        message = rng.choice(sent) if sent else 0
        return (kind, known, rng.choice(["delivered", "undelivered"]), message)
    if kind == "step":
        return (kind, known, rng.choice([1, 2]))
    if kind == "fetch":
        return (kind, known)
    if kind == "limit":
        layers = sorted(rng.sample(range(len(LAYERS)), rng.randint(1, len(LAYERS))))
        return (kind, layers, rng.randint(1, 4))  # a burst: that many at one instant
    return (kind, number, f"ver_{n}")  # a verification of the first format


async def _call(
    v: Version, side: str, op: tuple[Any, ...], now: int, full: str, ids: dict[str, int]
) -> Any:
    """`op` through version `v` on the keys of `side`; the reply."""
    kind = op[0]

    def prefix(number: int) -> str:
        return f"vs:{{{side}{number}}}"

    def of(vid: str) -> str:  # the keys of a started verification's number
        return prefix(ids[vid]) if vid in ids else ""

    if kind == "start":
        number, vid, exp, mc, ms, cool, tt, tl, md = op[1:]
        args = [now, vid, "login", NUMBERS[number], exp, mc, ms, cool, RETENTION, tt, tl, "sms", md]
        return await v.run("start", [prefix(number)], args)
    if kind == "first":
        number, vid = op[1:]
        client = v.scripts["start"].registered_client
        await client.hset(
            f"{prefix(number)}:v:{vid}",
            mapping={
                "service": "login", "to": NUMBERS[number], "channel": "sms",
                "status": "pending", "token_type": "numeric", "token_length": "6",
                "created_at": str(now), "updated_at": str(now), "expires_at": str(now + 600_000),
                "check_attempts": "0", "max_check_attempts": "2", "max_send_attempts": "2",
                "send_count": "1", "last_send_at": str(now), "metadata": "{}",
                "codes": f"{now + 600_000} hf{vid}",
                "sends": json.dumps({"at": "2025-01-01T00:00:00Z", "status": "sent",
                                     "provider": "p0", "message_id": f"m{vid}", "error": None}),
            },
        )  # fmt: skip
        await client.pexpire(f"{prefix(number)}:v:{vid}", 4_000_000)
        await client.set(f"{prefix(number)}:last", vid, px=4_000_000)
        return None
    if kind == "limit":
        keys = [f"vs:rl:{{{side}{layer}}}" for layer in op[1]]
        args = v.ratelimit_args(now, op[1])
        return [await v.run("ratelimit", keys, args) for _ in range(op[2])]
    if kind == "reserve":
        number, vid, service, length, types = op[1:]
        args = [now, service, vid, RETENTION, length, types]
        return await v.run("reserve", [prefix(number) if not vid else of(vid)], args)
    vid = op[1]
    if not of(vid):
        return None
    if kind == "send":
        attempts, sent, code_hash = op[2:]
        args = [now, vid, attempts, sent, code_hash, RETENTION, now + 600_000, full]
        return await v.run("record_send", [of(vid)], args)
    if kind == "finish":
        return await v.run("finish", [of(vid)], [now, vid, op[2], RETENTION, full])
    if kind == "end":
        return await v.run("end_pending", [of(vid)], [now, "login", vid, op[2], RETENTION])
    if kind == "fetch":
        return await v.run("fetch", [of(vid)], [now, "login", vid])
    if kind == "report":
        status, n = op[2:]
        args = [now, vid, "p0", f"m{n}.0", status, "", "p0", f"m{n}.0", ""]
        return await v.run("report", [of(vid)], args)
    return await v.run("workflow_step", [of(vid)], [now, "login", vid, op[2], "600", RETENTION])


def _normal(reply: Any) -> Any:
    """A reply as its reader takes it: a verification's fields (`{word, now, name, value,
    ...}`) as a mapping, as `StoredVerification` reads them (their order is free: a hash
    with a long value is no listpack, and its order follows its history)."""
    if (
        isinstance(reply, list)
        and len(reply) >= 4
        and len(reply) % 2 == 0
        and isinstance(reply[0], str)
    ):
        return reply[:2], dict(zip(reply[2::2], reply[3::2], strict=True))
    return reply


async def _state(client: Any, side: str) -> dict[str, Any]:
    """Every key of `side`, named without it: its value and TTL (ms)."""
    state: dict[str, Any] = {}
    async for key in client.scan_iter(match=f"vs:*{{{side}*"):
        name = key.replace(f"{{{side}", "{")
        kind = await client.type(key)
        value = await (client.hgetall(key) if kind == "hash" else client.get(key))
        state[name] = (value, await client.pttl(key))
    return state


def _same_state(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert old.keys() == new.keys()
    for name, (value, ttl) in old.items():
        assert new[name][0] == value, name
        if name.startswith("vs:rl:"):  # counters keep the TTL their bucket's start set
            assert 0 < new[name][1] <= ttl + 1000, name
        else:
            assert abs(new[name][1] - ttl) <= 1000, name


async def _same_behaviour(client: Any, seed: int, calls: int = 160) -> None:
    old, new = Version(client, OLD), Version(client, SCRIPTS)
    rng = random.Random(seed)
    now, ids, sent = T0, dict[str, int](), list[int]()
    for n in range(calls):
        now += rng.choice(GAPS)
        op = _op(rng, ids, sent, n)
        full = rng.choice(["0", "0", "1"])
        # a: the previous version alone; b: today's alone; c: either, call by call
        mixed = rng.choice([old, new])
        a = await _call(old, "a", op, now, full, ids)
        b = await _call(new, "b", op, now, full, ids)
        c = await _call(mixed, "c", op, now, full, ids)
        assert _normal(b) == _normal(a), (n, op)
        assert _normal(c) == _normal(a), (n, op)
        if op[0] in ("start", "first"):
            ids[op[2]] = op[1]
        if op[0] == "send" and op[2]:
            sent.append(n)
    before = await _state(client, "a")
    assert len(before) > 10
    _same_state(before, await _state(client, "b"))
    _same_state(before, await _state(client, "c"))


@pytest.mark.parametrize("seed", range(6))
async def test_the_same_as_the_previous_version_on_fakeredis(seed: int) -> None:
    store = Store.embedded()
    await _same_behaviour(store.client, seed)
    await store.aclose()


@pytest.mark.parametrize("seed", range(6))
async def test_the_same_as_the_previous_version_on_redis(
    redis_server: RedisServer, seed: int
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    await _same_behaviour(client, seed)
    await client.aclose()


async def test_a_counters_key_outlives_its_next_bucket(redis_server: RedisServer) -> None:
    """A sliding-window counter's key gets two periods when a count starts its bucket,
    and keeps that TTL through the bucket's further counts (no PEXPIRE): from anywhere in
    the bucket, the key lasts past the end of the next one, whose count still weighs the
    previous bucket. A moving window's key gets its period again on every count."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    script = Version(client, SCRIPTS).scripts["ratelimit"]
    hour = 3_600_000
    offset = -(int(time.time() * 1000) % hour)  # the store's clock at the start of an hour
    keys = ["vs:rl:{c}", "vs:rl:{m}"]
    windows = [1, "s1000/3600000", "s", 1000, hour, 1, "m5/600000", "m", 5, 600_000]

    async def count(at: int) -> None:
        now = int(time.time() * 1000) + offset + at
        assert await script(keys=keys, args=[now, *windows]) == [0]
        await asyncio.sleep(0.01)  # a TTL set again would read higher than before

    await count(0)
    started = await client.pttl(keys[0])
    assert 2 * hour - 1000 < started <= 2 * hour
    for minutes in (1, 30, 59):
        await count(minutes * 60_000)
        # set once, at the bucket's start: it only runs down
        assert 0 < await client.pttl(keys[0]) < started
        assert 600_000 - 1000 < await client.pttl(keys[1]) <= 600_000
    # the next bucket: its first count sets two periods again
    await count(hour + 1)
    assert 2 * hour - 1000 < await client.pttl(keys[0]) <= 2 * hour
    await client.aclose()
