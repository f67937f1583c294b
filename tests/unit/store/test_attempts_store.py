"""The attempt log's store (store/attempts.py + attempts_*.lua): records survive the round
trip, paging shows each record once newest first even when many share a millisecond,
conversion changes only its verification's records, and the log stays bounded (retention
on Redis's clock, max_per_service, and bytes per attempt on a real redis-server)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TAG_KEY
from tests.support.old_scripts import WAVE5, OldScripts
from tests.support.redis_server import RedisServer
from verify_service.domain.attempts import (
    ATTEMPT_STATUSES,
    Attempt,
    attempt_id,
    id_parts,
    ms_of,
)
from verify_service.store import Store, keys
from verify_service.store.attempts import (
    INDEX_FIELD,
    MAX_PER_NUMBER,
    AttemptStore,
    new_id,
    pack,
    unpack,
)

SERVICE = "login"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = 86400


def attempt(
    at: datetime,
    to: str = "+41791234567",
    *,
    verification: str | None = None,
    status: str = "sent",
) -> Attempt:
    # a verification id as start makes them: the number's tag, then 16 hex of its own
    verification = verification or keys.new_id(keys.tag_for(TAG_KEY, SERVICE, to))
    return Attempt(
        id=new_id(at),
        created_at=at,
        service=SERVICE,
        status=status,  # type: ignore[arg-type]
        to=to,
        country="CH",
        channel="sms",
        provider="capture" if status != "refused" else None,
        verification_id=verification if status != "refused" else None,
        reason="per_number" if status == "refused" else None,
        segments=1,
    )


def log_of(store: Store, retention: int = 30 * DAY, most: int = 1_000_000) -> AttemptStore:
    # the records are dated 2030: the store's clock is moved there
    store.clock_offset_ms = ms_of(T0) - ms_of(datetime.now(UTC))
    return AttemptStore(store, tag_key=TAG_KEY, retention=retention, max_per_service=most)


@given(
    status=st.sampled_from(ATTEMPT_STATUSES),
    reason=st.text(max_size=80),
    provider=st.text(max_size=30),
    converted=st.booleans(),
    segments=st.integers(0, 20),
    millis=st.integers(0, 10**12),
)
def test_pack_unpack_round_trip(
    status: str, reason: str, provider: str, converted: bool, segments: int, millis: int
) -> None:
    at = T0 + timedelta(milliseconds=millis)
    original = Attempt(
        id=new_id(at),
        created_at=at,
        service=SERVICE,
        status=status,  # type: ignore[arg-type]
        to="+41791234567",
        country="CH",
        channel="sms",
        provider=provider or None,
        verification_id=keys.new_id(keys.tag_for(TAG_KEY, SERVICE, "+41791234567")),
        reason=reason or None,
        segments=segments,
        converted=converted,
    )
    score, member = pack(original)
    back = unpack(SERVICE, str(score), member, TAG_KEY)
    assert "\n" not in member
    assert back.id == original.id
    assert back.created_at == at.replace(microsecond=at.microsecond // 1000 * 1000)
    assert (back.status, back.converted, back.segments) == (status, converted, segments)
    assert back.verification_id == original.verification_id
    assert back.provider == (_cleaned(provider)[:40] or None)
    assert back.reason == (_cleaned(reason)[:40] or None)
    assert back.prefix == "+4179"


def _cleaned(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ").replace("\r", " ")


async def test_read_pages_newest_first_through_ties(store: Store) -> None:
    log = log_of(store)
    # three records in one millisecond, two of another number
    same = [attempt(T0) for _ in range(3)]
    other = [attempt(T0 + timedelta(seconds=1), "+41791234500") for _ in range(2)]
    await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, "+41791234567"), same)
    await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, "+41791234500"), other)
    seen: list[str] = []
    before = None
    for _ in range(10):
        batch = await log.read(SERVICE, before=before, count=1)
        seen += [a.id for a in batch.attempts]
        if batch.done:
            break
        before = batch.resume
    assert sorted(seen) == sorted(a.id for a in same + other)
    assert len(seen) == 5
    assert seen[:2] == sorted((a.id for a in other), reverse=True)
    by_number = await log.read(
        SERVICE, tag=keys.tag_for(TAG_KEY, SERVICE, "+41791234567"), count=10
    )
    assert sorted(a.id for a in by_number.attempts) == sorted(a.id for a in same)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(0, 5), min_size=1, max_size=25),
    page=st.integers(1, 8),
    number_index=st.booleans(),
)
def test_paging_shows_each_record_once_whatever_the_page(
    offsets: list[int], page: int, number_index: bool
) -> None:
    """Records at few distinct milliseconds (many ties), read in pages of any size, from
    the log or from the number's index (fakeredis: one fresh store per example)."""

    async def run() -> None:
        store = Store.embedded()
        await store.load_scripts()
        log = log_of(store)
        records = [attempt(T0 + timedelta(milliseconds=o)) for o in offsets]
        tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
        await log.add(SERVICE, tag, records)
        seen: list[Attempt] = []
        before = None
        while True:
            batch = await log.read(
                SERVICE, tag=tag if number_index else None, before=before, count=page
            )
            seen += batch.attempts
            if batch.done or batch.resume is None:
                break
            before = batch.resume
        assert sorted(a.id for a in seen) == sorted(a.id for a in records)
        keys_ = [(ms_of(a.created_at), id_parts(a.id)) for a in seen]
        assert keys_ == sorted(keys_, reverse=True)
        await store.aclose()

    asyncio.run(run())


async def test_convert_marks_only_that_verification(store: Store) -> None:
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
    mine, theirs = keys.new_id(tag), keys.new_id(tag)
    a, b = attempt(T0, verification=mine), attempt(T0, verification=theirs)
    c = attempt(T0 + timedelta(seconds=5), verification=mine)
    await log.add(SERVICE, tag, [a, b, c])
    assert await log.convert(SERVICE, mine, [ms_of(T0), ms_of(c.created_at)]) == 2
    assert await log.convert(SERVICE, mine, [ms_of(T0)]) == 0  # already converted
    converted = {x.id: x.converted for x in (await log.read(SERVICE)).attempts}
    assert converted == {a.id: True, b.id: False, c.id: True}


async def test_retention_and_size_bound(store: Store) -> None:
    log = log_of(store, retention=DAY, most=100)
    tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
    await log.add(SERVICE, tag, [attempt(T0 - timedelta(hours=23))])
    assert len((await log.read(SERVICE)).attempts) == 1
    store.clock_offset_ms += 2 * 3600 * 1000  # Redis's clock: now 25 hours after it
    assert (await log.read(SERVICE)).attempts == []
    assert (await log.read(SERVICE, tag=tag)).attempts == []
    # writing trims what is past the retention, and keeps the newest `most`
    await log.add(SERVICE, tag, [attempt(T0 + timedelta(milliseconds=i)) for i in range(150)])
    log_key = keys.attempts_log_key(SERVICE)
    assert await store.client.zcard(log_key) == 100
    # a retention from the last write at least, an hour more at most
    assert DAY * 1000 < await store.client.pttl(log_key) <= (DAY + 3600) * 1000
    newest = (await log.read(SERVICE, count=1)).attempts[0]
    assert newest.created_at == T0 + timedelta(milliseconds=149)


async def test_a_write_keeps_the_keys_a_retention_after_it(store: Store) -> None:
    """The service's keys are given a retention and an hour when less than a retention is
    left (about once an hour, not on every write: the write that comes when the upkeep is
    due by Redis's clock looks): after any write, each key lives at least a retention
    longer, so nothing written goes before its time."""
    log = log_of(store, retention=DAY)
    tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
    await log.add(SERVICE, tag, [attempt(T0)], created=True)
    names = (
        keys.attempts_log_key(SERVICE),
        keys.attempts_numbers_key(SERVICE),
        keys.attempts_since_key(SERVICE),
    )
    for name in names:
        assert DAY * 1000 < await store.client.pttl(name) <= (DAY + 3600) * 1000
        await store.client.pexpire(name, DAY * 1000 - 5000)  # as an hour and more later
    store.clock_offset_ms += 3605 * 1000  # ... on Redis's clock too
    await log.add(SERVICE, tag, [attempt(T0 + timedelta(hours=1, seconds=5))])
    for name in names:
        assert DAY * 1000 < await store.client.pttl(name) <= (DAY + 3600) * 1000


async def test_a_write_sweeps_numbers_past_the_retention(store: Store) -> None:
    """About one write in 16 looks at the next fields of the index (two per write on
    average, its HSCAN cursor kept in the index) and drops the numbers whose records are
    all past the retention; a number with a live record stays, whatever its older ones."""
    log = log_of(store, retention=DAY)
    numbers = keys.attempts_numbers_key(SERVICE)

    async def indexed() -> set[str]:
        # `~`: the sweep's cursor, `@`: when the upkeep is due
        return set(await store.client.hkeys(numbers)) - {"~", "@"}

    old = ["+4179100000" + str(i) for i in range(3)]
    for to in old:
        await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, to), [attempt(T0, to)])
    kept = "+41793000000"  # an old record, then a live one
    kept_tag = keys.tag_for(TAG_KEY, SERVICE, kept)
    await log.add(SERVICE, kept_tag, [attempt(T0, kept)])
    assert len(await indexed()) == 4
    store.clock_offset_ms += (DAY + 60) * 1000  # the first four are past the retention
    await log.add(SERVICE, kept_tag, [attempt(T0 + timedelta(days=1, minutes=1), kept)])
    fresh = "+41792000000"
    wanted = {keys.tag_for(TAG_KEY, SERVICE, fresh)[:10], kept_tag[:10]}
    # a write that sweeps comes 1 in 16 (the first hex digit of a random part): 400
    # writes all miss it with a chance of 1 in 10^11
    for i in range(400):
        at = T0 + timedelta(days=1, minutes=2, milliseconds=i)
        await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, fresh), [attempt(at, fresh)])
        if await indexed() == wanted:
            break
    assert await indexed() == wanted
    assert [a.to for a in (await log.read(SERVICE, tag=kept_tag)).attempts] == [kept]


@pytest.mark.parametrize("per_number", [1, 5])
async def test_bytes_per_attempt_on_redis(redis_server: RedisServer, per_number: int) -> None:
    """What docs/performance.md records: Redis's own accounting (INFO used_memory) around
    5,000 realistic attempts (a verification id, a provider, a country), indexes included,
    with `per_number` attempts to each number. Target: at most 300 bytes.

    Measured after as many attempts again to other numbers: what a log that is already
    in use grows by. A fresh redis-server's first writes also allocate ~290 KB once that
    no FLUSHDB gives back, which 5,000 records would spread as ~60 B each (340 B on a
    fresh server, 275 B on the second run against the same one)."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    log = log_of(store)
    count = 5000

    async def write(country: str) -> None:
        for n in range(count // per_number):
            to = f"+41{country}{n:07d}"
            records = [
                attempt(T0 + timedelta(milliseconds=n * per_number + i), to)
                for i in range(per_number)
            ]
            await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, to), records)

    await write("78")
    before = int((await client.info("memory"))["used_memory"])
    await write("79")
    after = int((await client.info("memory"))["used_memory"])
    per_attempt = (after - before) / count
    usage = await client.memory_usage(keys.attempts_log_key(SERVICE))
    print(f"\n{per_number} per number: {per_attempt:.0f} B/attempt, log {usage / count / 2:.0f} B")
    assert per_attempt <= 300
    await store.aclose()


async def test_the_index_keeps_a_numbers_newest_entries(store: Store) -> None:
    """A number written to more than MAX_PER_NUMBER times keeps its newest entries in the
    index (appended to as they come, cut when full, in one write of several records too);
    its older records stay in the log, found by time."""
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
    writes = [[attempt(T0 + timedelta(seconds=i))] for i in range(MAX_PER_NUMBER - 2)]
    writes.append([attempt(T0 + timedelta(hours=1, milliseconds=i)) for i in range(5)])
    writes += [[attempt(T0 + timedelta(hours=2, seconds=i))] for i in range(3)]
    for records in writes:
        await log.add(SERVICE, tag, records)
    written = [r for records in writes for r in records]
    by_number = await log.read(SERVICE, tag=tag, count=1000)
    assert [a.id for a in by_number.attempts] == [a.id for a in written[::-1][:MAX_PER_NUMBER]]
    value = await store.client.hget(keys.attempts_numbers_key(SERVICE), tag[:INDEX_FIELD])
    assert len(value.split(" ")) == MAX_PER_NUMBER
    assert len((await log.read(SERVICE, count=1000)).attempts) == len(written)


async def test_wave5_and_this_version_share_the_log(store: Store) -> None:
    """An upgrade from wave 5 (tests/support/attempts_v5/), and back or during a rolling
    deploy: records either version wrote are read by time and by number, wave 5's sweep
    keeps this version's `@` field (it reads as a live entry), each version's write
    leaves the keys a retention or more, and the log ends trimmed to its bounds."""
    log = log_of(store, retention=DAY, most=100)
    numbers = [f"+4179100000{i}" for i in range(4)]
    current = store.scripts
    written: list[Attempt] = []

    async def write(to: str, at: datetime, *, old: bool, sweep: bool = False) -> None:
        record = attempt(at, to)
        if sweep:  # a random part starting with 0: the write that sweeps and trims
            parts = id_parts(record.id)
            assert parts is not None
            record = replace(record, id=attempt_id(ms_of(at), "0" + parts[1][1:]))
        store.scripts = OldScripts(current, WAVE5) if old else current  # type: ignore[assignment]
        try:
            await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, to), [record], created=True)
        finally:
            store.scripts = current
        written.append(record)

    for i, to in enumerate(numbers):
        await write(to, T0 + timedelta(seconds=i), old=True)
    await write(numbers[0], T0 + timedelta(seconds=10), old=False)
    index = keys.attempts_numbers_key(SERVICE)
    assert await store.client.hexists(index, "@")
    await write(numbers[1], T0 + timedelta(seconds=11), old=True, sweep=True)
    assert await store.client.hexists(index, "@")
    await write(numbers[2], T0 + timedelta(seconds=12), old=False, sweep=True)
    for to in numbers:
        tag = keys.tag_for(TAG_KEY, SERVICE, to)
        by_number = (await log.read(SERVICE, tag=tag)).attempts
        assert sorted(a.id for a in by_number) == sorted(a.id for a in written if a.to == to)
    assert sorted(a.id for a in (await log.read(SERVICE)).attempts) == sorted(a.id for a in written)
    for name in (keys.attempts_log_key(SERVICE), index, keys.attempts_since_key(SERVICE)):
        assert DAY * 1000 < await store.client.pttl(name) <= (DAY + 3600) * 1000
    # over the bound, then a day later: one write of this version trims to both
    for i in range(120):
        await write(numbers[3], T0 + timedelta(minutes=1, milliseconds=i), old=i % 2 == 0)
    store.clock_offset_ms += (DAY + 120) * 1000
    await write(numbers[3], T0 + timedelta(days=1, minutes=3), old=False)
    assert [a.id for a in (await log.read(SERVICE, count=1000)).attempts] == [written[-1].id]
    assert await store.client.zcard(keys.attempts_log_key(SERVICE)) == 1


async def test_a_shorter_retention_trims_within_the_hour(store: Store) -> None:
    """The upkeep that trims to the retention comes an hour after the last one at most,
    whatever TTL the keys still have: after a retention made shorter (30 days, then one),
    records past it go within the hour, not when the longer TTL runs low."""
    tag = keys.tag_for(TAG_KEY, SERVICE, "+41791234567")
    await log_of(store, retention=30 * DAY).add(SERVICE, tag, [attempt(T0)])
    shorter = log_of(store, retention=DAY)
    offset = store.clock_offset_ms
    for hours in (1, 12, 26):  # Redis's clock: hours after T0
        store.clock_offset_ms = offset + hours * 3600 * 1000
        await shorter.add(SERVICE, tag, [attempt(T0 + timedelta(hours=hours))])
    # T0's and the first hour's are past the day
    assert await store.client.zcard(keys.attempts_log_key(SERVICE)) == 2
