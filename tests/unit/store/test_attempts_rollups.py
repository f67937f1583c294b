"""The attempt log's hourly roll-ups (store/attempts.py ROLL-UPS, written by
attempts_add.lua / attempts_convert.lua / attempts_dlr.lua) and the console's read model
over them (usecases/insights.py): over random histories of starts, resends, failed sends,
refusals, approvals and delivery reports (in any order, repeated, some refused by the
DLR rules), each hour's counters equal a scan of the same records in the log, and the
Overview and Providers figures equal the log-scan's by the definitions in insights.py; on
fakeredis and on a real redis-server. Plus: an approval counts once, in its start's hour,
and is credited to the provider of the last accepted send; a late report counts in its
send's hour; records from before the roll-ups began are not counted; hours expire with
the retention; and the bytes per service-hour on a real redis-server
(docs/performance.md). An upgrade: a history written partly by the previous version's
scripts (wave 4, whose counters were kept per kind: tests/support/attempts_v4/; wave 5,
which read the since key and the TTL on every write: attempts_v5/) and partly by the
current ones reads the same figures as a scan of the log."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TAG_KEY
from tests.support.old_scripts import WAVE4, WAVE5, OldScripts
from tests.support.redis_server import RedisServer
from verify_service.domain.attempts import Attempt, AttemptStatus, ms_of
from verify_service.store import Store, keys
from verify_service.store.attempts import (
    HOUR_MS,
    LATENCY_BOUNDS,
    REPORT_BOUNDS,
    AttemptStore,
    DeliveryUpdate,
    hour_of,
    latency_bucket,
    new_id,
    pack,
    report_bucket,
)
from verify_service.usecases.insights import Insights, quantile

SERVICE = "login"
NOW = datetime(2030, 1, 8, 13, 25, tzinfo=UTC)
DAY = 86400
NUMBERS = {"CH": "+41791234567", "DE": "+4915112345678", None: "+88216012345"}
PROVIDERS = ("alpha", "beta")


def log_of(store: Store, retention: int = 30 * DAY) -> AttemptStore:
    store.clock_offset_ms = ms_of(NOW) - ms_of(datetime.now(UTC))
    return AttemptStore(store, tag_key=TAG_KEY, retention=retention, max_per_service=10**6)


def record(
    at: datetime,
    country: str | None,
    status: AttemptStatus,
    provider: str | None,
    verification: str | None,
) -> Attempt:
    return Attempt(
        id=new_id(at),
        created_at=at,
        service=SERVICE,
        status=status,
        to=NUMBERS[country],
        country=country,
        channel="sms",
        provider=provider,
        verification_id=verification,
        reason="per_number" if status == "refused" else None,
        segments=1 if status == "sent" else 0,
    )


# A delivery report as the test sends it: the status and when it comes, in seconds after
# its send (up to 2 h: every REPORT_BOUNDS bucket).
Report = tuple[str, int]


@dataclass
class Write:
    """One call of the log: a delivery (`created` for the verification's first) or a
    refusal; `approve` approves the verification after its last delivery; `reports` the
    delivery reports of each record (sent later, in any order)."""

    at: datetime
    records: list[Attempt]
    created: bool
    seconds: list[float | None]
    verification: str | None
    approve: bool = False
    reports: list[list[Report]] | None = None


report_st = st.tuples(st.sampled_from(["delivered", "undelivered"]), st.integers(0, 7200))
send = st.tuples(
    st.sampled_from(PROVIDERS),
    st.sampled_from(["sent", "failed"]),
    st.one_of(st.none(), st.floats(0.001, 40.0)),
    # a report of a failed send (none would come) must change nothing
    st.lists(report_st, max_size=3),
)
verification_st = st.tuples(
    st.sampled_from(list(NUMBERS)),
    st.integers(0, 8 * 24 * 60),  # minutes before NOW (beyond the week too)
    # deliveries: minutes after the start (0 for the first), each 1-3 provider tries
    st.lists(st.tuples(st.integers(0, 90), st.lists(send, min_size=1, max_size=3)), min_size=1),
    st.booleans(),  # approved
)
refusal_st = st.tuples(st.sampled_from(list(NUMBERS)), st.integers(0, 8 * 24 * 60))


Send = tuple[str, str, float | None, list[Report]]
Verifications = list[tuple[str | None, int, list[tuple[int, list[Send]]], bool]]


def history(verifications: Verifications, refusals: list[tuple[str | None, int]]) -> list[Write]:
    writes: list[Write] = []
    for country, minutes, deliveries, approved in verifications:
        start = NOW - timedelta(minutes=minutes)
        vid = keys.new_id(keys.tag_for(TAG_KEY, SERVICE, NUMBERS[country]))
        offsets = sorted(offset for offset, _ in deliveries)
        offsets[0] = 0
        for n, (offset, (_, tries)) in enumerate(zip(offsets, deliveries, strict=True)):
            # each send of a verification at its own ms, as the service makes them
            at = min(NOW, start + timedelta(minutes=offset)) + timedelta(milliseconds=10 * n)
            records = [
                record(at + timedelta(milliseconds=i), country, status, provider, vid)  # type: ignore[arg-type]
                for i, (provider, status, _, _) in enumerate(tries)
            ]
            seconds = [s for _, _, s, _ in tries]
            reports = [r for _, _, _, r in tries]
            last = n == len(deliveries) - 1
            writes.append(Write(at, records, n == 0, seconds, vid, approved and last, reports))
    for country, minutes in refusals:
        at = NOW - timedelta(minutes=minutes)
        writes.append(Write(at, [record(at, country, "refused", None, None)], False, [None], None))
    writes.sort(key=lambda w: w.at)  # as they happen
    return writes


@contextmanager
def version(log: AttemptStore, old: bool, folder: Path = WAVE4) -> Iterator[None]:
    """Run the log's writes with an earlier version's scripts (`folder`) when `old`."""
    store = log._store
    current = store.scripts
    if old:
        store.scripts = OldScripts(current, folder)  # type: ignore[assignment]
    try:
        yield
    finally:
        store.scripts = current


async def apply(
    log: AttemptStore,
    writes: list[Write],
    shuffle: random.Random | None = None,
    *,
    old_writes: int = 0,
    old_reports: int = 0,
    old: Path = WAVE4,
) -> list[tuple[Attempt, Report]]:
    """Write, approve, then send every delivery report, in an order `shuffle` makes, in
    batches of 1-4 (one store call each), at its own time on the store's clock; returns
    the reports in the order sent. The first `old_writes` writes (their approvals too)
    and `old_reports` reports go through an earlier version's scripts (`old`)."""
    sent_at: dict[str, list[int]] = defaultdict(list)
    accepted_at: dict[str, list[int]] = defaultdict(list)
    reports: list[tuple[Attempt, Report]] = []
    for n, write in enumerate(writes):
        with version(log, n < old_writes, old):
            tag = keys.tag_for(TAG_KEY, SERVICE, write.records[0].to)
            await log.add(SERVICE, tag, write.records, created=write.created, seconds=write.seconds)
            for r, sent in zip(
                write.records, write.reports or [[]] * len(write.records), strict=True
            ):
                reports += [(r, report) for report in sent]
            if write.verification:
                sent_at[write.verification] += [ms_of(r.created_at) for r in write.records]
                accepted_at[write.verification] += [
                    ms_of(r.created_at) for r in write.records if r.status != "failed"
                ]
                if write.approve:
                    credit = max(accepted_at[write.verification], default=None)
                    await log.convert(
                        SERVICE, write.verification, sent_at[write.verification], credit
                    )
    if shuffle is not None:
        shuffle.shuffle(reports)
    # The reports come at their own times, out of order: the store's clock goes back and
    # forth, Redis's never does. Reports are counted from before the first of them.
    await log._store.client.set(keys.attempts_reports_since_key(SERVICE), 0)
    clock = log._store.clock_offset_ms  # the test's own clock
    at = 0
    while at < len(reports):
        batch = reports[at : at + (shuffle.randint(1, 4) if shuffle else 1)]
        at += len(batch)
        # the batch comes when its first report does (the others a little earlier or later)
        r, (_, delay) = batch[0]
        log._store.clock_offset_ms = ms_of(r.created_at) + delay * 1000 - ms_of(datetime.now(UTC))
        updates = [
            DeliveryUpdate(a.verification_id or "", a.provider or "", ms_of(a.created_at), status)  # type: ignore[arg-type]
            for a, (status, _) in batch
        ]
        with version(log, at - len(batch) < old_reports, old):
            await log.report(SERVICE, updates)
    log._store.clock_offset_ms = clock
    return reports


async def scan(log: AttemptStore) -> list[Attempt]:
    found: list[Attempt] = []
    before = None
    while True:
        batch = await log.read(SERVICE, before=before, count=1000)
        found += batch.attempts
        if batch.done or batch.resume is None:
            return found
        before = batch.resume


def counters_from_scan(found: list[Attempt], writes: list[Write]) -> dict[int, Counter[str]]:
    """Each hour's counters as the definitions say, from the records themselves (and the
    provider call times, which the log does not keep, from the writes)."""
    hours: dict[int, Counter[str]] = defaultdict(Counter)
    first: dict[str, Attempt] = {}
    last_accepted: dict[str, Attempt] = {}
    converted: set[str] = set()
    for a in found:
        hour = hour_of(ms_of(a.created_at))
        country = a.country or ""
        if a.status == "refused":
            hours[hour][f"r:{country}"] += 1
            continue
        assert a.verification_id is not None
        assert a.provider is not None
        hours[hour][f"n:{a.provider}"] += 1
        if a.status != "failed":
            hours[hour][f"k:{a.provider}"] += 1
            known = last_accepted.get(a.verification_id)
            if known is None or known.created_at < a.created_at:
                last_accepted[a.verification_id] = a
        if a.status in ("delivered", "undelivered"):
            hours[hour][f"{a.status[0]}:{a.provider}"] += 1
            assert a.reported_at is not None
            seconds = round((a.reported_at - a.created_at).total_seconds())
            hours[hour][f"t:{a.provider}:{report_bucket(seconds)}"] += 1
        known = first.get(a.verification_id)
        if known is None or known.created_at > a.created_at:
            first[a.verification_id] = a
        if a.converted:
            converted.add(a.verification_id)
    for vid, a in first.items():
        hour = hour_of(ms_of(a.created_at))
        hours[hour][f"s:{a.country or ''}"] += 1
        if vid in converted:
            hours[hour][f"a:{a.country or ''}"] += 1
    for vid, a in last_accepted.items():
        if vid in converted:
            hours[hour_of(ms_of(a.created_at))][f"c:{a.provider}"] += 1
    for write in writes:
        for r, seconds in zip(write.records, write.seconds, strict=True):
            if seconds is not None:
                bucket = latency_bucket(seconds)
                hours[hour_of(ms_of(r.created_at))][f"l:{r.provider}:{bucket}"] += 1
    return hours


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    verifications=st.lists(verification_st, max_size=12),
    refusals=st.lists(refusal_st, max_size=5),
    shuffle=st.randoms(use_true_random=False),
)
async def test_rollups_equal_a_scan_of_the_log(
    store: Store,
    verifications: Verifications,
    refusals: list[tuple[str | None, int]],
    shuffle: random.Random,
) -> None:
    await check_rollups_against_a_scan(store, verifications, refusals, shuffle)


@pytest.mark.parametrize("old", [WAVE4, WAVE5], ids=["wave4", "wave5"])
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    verifications=st.lists(verification_st, min_size=1, max_size=12),
    refusals=st.lists(refusal_st, max_size=5),
    shuffle=st.randoms(use_true_random=False),
    old_writes=st.integers(0, 30),
    old_reports=st.integers(0, 40),
)
async def test_an_upgrade_reads_what_the_previous_version_counted(
    store: Store,
    old: Path,
    verifications: Verifications,
    refusals: list[tuple[str | None, int]],
    shuffle: random.Random,
    old_writes: int,
    old_reports: int,
) -> None:
    """Writes, approvals and reports up to a random point by an earlier version's scripts,
    the rest by the current ones, in the same hours: every counter and every console
    figure equals the scan of the log. Wave 4 (tests/support/attempts_v4/) kept a counter
    per kind (`n:`, `k:`, `l:`, `d:`, `u:`, `t:`), this version one per bucket (`A:`,
    `F:`, `D:`, `U:`): a send reported undelivered before the upgrade and delivered after
    it moves from the old counters to the new. Wave 5 (attempts_v5/) read the since key
    and the log's TTL and trimmed on every write; this version keeps when its upkeep is
    due, and a copy of since, in the number index (`@`)."""
    await check_rollups_against_a_scan(
        store,
        verifications,
        refusals,
        shuffle,
        old_writes=old_writes,
        old_reports=old_reports,
        old=old,
    )


async def check_rollups_against_a_scan(
    store: Store,
    verifications: Verifications,
    refusals: list[tuple[str | None, int]],
    shuffle: random.Random,
    *,
    old_writes: int = 0,
    old_reports: int = 0,
    old: Path = WAVE4,
) -> None:
    await store.client.flushdb()
    log = log_of(store)
    writes = history(verifications, refusals)
    reports = await apply(
        log, writes, shuffle, old_writes=old_writes, old_reports=old_reports, old=old
    )
    found = await scan(log)
    expected = counters_from_scan(found, writes)
    # each send ends as the DLR rules say, whatever the order: delivered once any report
    # said so, else undelivered once one said that; a failed send keeps its status
    said: dict[str, set[str]] = defaultdict(set)
    for a, (status, _) in reports:
        said[a.id].add(status)
    for a in found:
        if a.status != "refused":
            wanted = (
                "failed"
                if a.status == "failed"
                else "delivered"
                if "delivered" in said[a.id]
                else "undelivered"
                if said[a.id]
                else "sent"
            )
            assert a.status == wanted, (a.id, said[a.id])
    current = hour_of(ms_of(NOW))
    span = list(range(current - 9 * 24, current + 1))
    rollups = await log.rollups(SERVICE, span)
    got = {hour: Counter(h) for hour, h in zip(span, rollups.hours, strict=True) if h}
    assert got == {hour: c for hour, c in expected.items() if c}

    # the console's figures, by insights.py's definitions, from the scan
    insights = Insights(log)
    overview = await insights.overview(SERVICE, NOW)
    week = [h for h in span if h > current - 168]

    def total(kind: str, hours: list[int]) -> int:
        """A field's sum over `hours`; with a kind alone ("s:"), of all its fields."""
        exact = kind.count(":") == 2 or not kind.endswith(":")
        return sum(
            v
            for h in hours
            for k, v in expected[h].items()
            if (k == kind if exact else k.startswith(kind))
        )

    for name, hours in (("hour", week[-1:]), ("day", week[-24:]), ("week", week)):
        funnel, sent = overview.windows[name], overview.deliveries[name]
        assert (funnel.starts, funnel.approvals, funnel.refused) == (
            total("s:", hours),
            total("a:", hours),
            total("r:", hours),
        ), name
        assert (sent.accepted, sent.delivered, sent.undelivered) == (
            total("k:", hours),
            total("d:", hours),
            total("u:", hours),
        ), name
    assert [f.starts for f in overview.hourly] == [total("s:", [h]) for h in week[-24:]]
    assert [f.approvals for f in overview.daily] == [
        total("a:", week[d * 24 : d * 24 + 24]) for d in range(7)
    ]
    for row in overview.countries:
        code = "" if row.country == "??" else row.country
        assert row.week.starts == sum(expected[h][f"s:{code}"] for h in week)
        assert row.week.refused == sum(expected[h][f"r:{code}"] for h in week)
    assert sum(r.week.starts for r in overview.countries) == overview.windows["week"].starts

    rows = {row.provider: row for row in await insights.providers(SERVICE, NOW)}
    for provider in PROVIDERS:
        day = week[-24:]
        if provider not in rows:
            assert total(f"n:{provider}", day) == 0
            continue
        row = rows[provider]
        assert row.attempts == total(f"n:{provider}", day)
        assert row.reached == total(f"k:{provider}", day)
        assert row.hourly == [total(f"n:{provider}", [h]) for h in day]
        counts = [total(f"l:{provider}:{i}", day) for i in range(len(LATENCY_BOUNDS) + 1)]
        assert row.latency == counts
        assert row.p50 == quantile(counts, 0.5)
        delivered, undelivered = total(f"d:{provider}", day), total(f"u:{provider}", day)
        assert (row.delivered, row.undelivered) == (delivered, undelivered)
        assert row.unreported == row.reached - delivered - undelivered >= 0
        assert row.delivery_rate == (
            delivered / (delivered + undelivered) if delivered + undelivered else None
        )
        times = [total(f"t:{provider}:{i}", day) for i in range(len(REPORT_BOUNDS) + 1)]
        assert row.report_times == times
        assert sum(times) == delivered + undelivered
        assert row.report_p95 == quantile(times, 0.95, REPORT_BOUNDS)
        assert row.approvals == total(f"c:{provider}", day)
    assert overview.counting_since is None  # nothing in the log older than the roll-ups


async def test_an_approval_counts_once_in_its_starts_hour(store: Store) -> None:
    log = log_of(store)
    vid = keys.new_id(keys.tag_for(TAG_KEY, SERVICE, NUMBERS["CH"]))
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["CH"])
    first_at = NOW.replace(minute=0) - timedelta(minutes=2)  # 13:58 of the hour before
    resend_at = first_at + timedelta(minutes=5)  # the current hour
    first = [
        record(first_at, "CH", "failed", "alpha", vid),
        record(first_at, "CH", "sent", "beta", vid),
    ]
    resend = [record(resend_at, "CH", "sent", "beta", vid)]
    await log.add(SERVICE, tag, first, created=True, seconds=[0.02, 0.3])
    await log.add(SERVICE, tag, resend, seconds=[0.07])
    times = [ms_of(first_at), ms_of(resend_at)]
    assert await log.convert(SERVICE, vid, times) == 3
    assert await log.convert(SERVICE, vid, times) == 0  # approved once
    hours = (await log.rollups(SERVICE, [hour_of(ms_of(first_at)), hour_of(ms_of(NOW))])).hours
    assert hours[0] == {
        "s:CH": 1,
        "a:CH": 1,
        "n:alpha": 1,
        "n:beta": 1,
        "k:beta": 1,
        "l:alpha:0": 1,
        "l:beta:4": 1,
    }
    assert hours[1] == {"n:beta": 1, "k:beta": 1, "l:beta:2": 1}
    overview = await Insights(log).overview(SERVICE, NOW)
    assert overview.windows["hour"].starts == 0  # the start was in the previous hour
    assert (overview.windows["day"].starts, overview.windows["day"].approvals) == (1, 1)


async def report_at(
    log: AttemptStore, at: datetime, *updates: tuple[Attempt, AttemptStatus]
) -> int:
    """Send delivery reports of `updates` (record, status) in one call, at `at`."""
    clock = log._store.clock_offset_ms  # the test's own clock
    log._store.clock_offset_ms = ms_of(at) - ms_of(datetime.now(UTC))
    try:
        return await log.report(
            SERVICE,
            [
                DeliveryUpdate(
                    a.verification_id or "", a.provider or "", ms_of(a.created_at), status, "X1"
                )
                for a, status in updates
            ],
        )
    finally:
        log._store.clock_offset_ms = clock


async def test_a_late_report_counts_in_its_sends_hour_and_by_the_dlr_rules(store: Store) -> None:
    """A send at 12:58 whose report comes 10 minutes later, in the next hour: counted in
    12:00's hash, in the 900 s report bucket. undelivered then delivered moves the send
    from `u:` to `d:` (and its report time to the later report's); delivered is final: a
    later undelivered, or a repeated report, counts nothing."""
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["CH"])
    vid = keys.new_id(tag)
    at = NOW.replace(minute=0) - timedelta(minutes=2)
    send = record(at, "CH", "sent", "alpha", vid)
    await log.add(SERVICE, tag, [send], created=True, seconds=[0.2])
    send_hour, report_hour = hour_of(ms_of(at)), hour_of(ms_of(NOW))

    async def counters() -> tuple[dict[str, int], dict[str, int]]:
        hours = (await log.rollups(SERVICE, [send_hour, report_hour])).hours
        return (
            {k: v for k, v in hours[0].items() if k[0] in "dut"},
            hours[1],
        )

    # undelivered twice (the second repeats it), 10 minutes after the send
    assert await report_at(log, at + timedelta(minutes=10), (send, "undelivered")) == 1
    assert await report_at(log, at + timedelta(minutes=11), (send, "undelivered")) == 0
    assert await counters() == ({"u:alpha": 1, "t:alpha:8": 1}, {})
    # then delivered, 20 s after the send (a report that was held up): it wins
    assert await report_at(log, at + timedelta(seconds=20), (send, "delivered")) == 1
    assert await counters() == ({"d:alpha": 1, "t:alpha:4": 1}, {})
    # delivered is final; the same report twice in one call counts once
    assert (
        await report_at(log, at + timedelta(minutes=30), (send, "undelivered"), (send, "delivered"))
        == 0
    )
    assert await counters() == ({"d:alpha": 1, "t:alpha:4": 1}, {})
    [row] = await Insights(log).providers(SERVICE, NOW)
    assert (row.reached, row.delivered, row.undelivered, row.unreported) == (1, 1, 0, 0)
    assert row.delivery_rate == 1.0
    assert row.report_p50 == pytest.approx(10 + (30 - 10) * 0.5)  # within (10, 30] s
    [attempt] = await scan(log)
    assert attempt.status == "delivered"
    assert attempt.reported_at == at + timedelta(seconds=20)


async def test_a_report_before_the_upgrade_is_not_taken_back(store: Store) -> None:
    """An upgrade from a version that changed records on a report without counting it: a
    send reported undelivered then is in no `u:` counter, so a "delivered" after the
    upgrade adds to `d:` and takes nothing (no counter below 0)."""
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["CH"])
    at = NOW - timedelta(minutes=20)
    send = record(at, "CH", "sent", "alpha", keys.new_id(tag))
    await log.add(SERVICE, tag, [send], created=True)
    # what the older attempts_dlr.lua left: the record undelivered, reported after 5 s
    score, member = pack(send)
    old = member.split("|")
    old[2], old[9] = "u", "X1"
    await store.client.zrem(keys.attempts_log_key(SERVICE), member)
    await store.client.zadd(keys.attempts_log_key(SERVICE), {"|".join([*old, "5"]): score})
    assert await report_at(log, NOW, (send, "delivered")) == 1
    [hour] = (await log.rollups(SERVICE, [hour_of(score)])).hours
    assert {k: v for k, v in hour.items() if k[0] in "dut"} == {"d:alpha": 1, "t:alpha:9": 1}


async def test_an_approval_is_credited_to_the_last_accepted_send(store: Store) -> None:
    """alpha's send is accepted, the resend fails on beta and goes through gamma; the code
    of the first send approves: the credit (c:) goes to gamma, the last accepted send, in
    its hour; approving again credits nothing more."""
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["DE"])
    vid = keys.new_id(tag)
    first_at = NOW.replace(minute=0) - timedelta(minutes=1)
    resend_at = first_at + timedelta(minutes=3)
    first = [record(first_at, "DE", "sent", "alpha", vid)]
    resend = [
        record(resend_at, "DE", "failed", "beta", vid),
        record(resend_at + timedelta(milliseconds=5), "DE", "sent", "gamma", vid),
    ]
    await log.add(SERVICE, tag, first, created=True)
    await log.add(SERVICE, tag, resend)
    times = [ms_of(r.created_at) for r in first + resend]
    credit = ms_of(resend[1].created_at)
    assert await log.convert(SERVICE, vid, times, credit) == 3
    assert await log.convert(SERVICE, vid, times, credit) == 0
    hours = (await log.rollups(SERVICE, [hour_of(ms_of(first_at)), hour_of(ms_of(NOW))])).hours
    assert {k: v for k, v in hours[0].items() if k[0] in "ac"} == {"a:DE": 1}
    assert {k: v for k, v in hours[1].items() if k[0] in "ac"} == {"c:gamma": 1}
    rows = {row.provider: row for row in await Insights(log).providers(SERVICE, NOW)}
    assert (rows["gamma"].approvals, rows["gamma"].conversion) == (1, 1.0)
    assert (rows["alpha"].approvals, rows["alpha"].conversion) == (0, 0.0)
    assert rows["beta"].conversion is None  # nothing accepted


async def test_records_before_the_rollups_began_are_not_counted(store: Store) -> None:
    """An upgrade: records written before roll-ups existed (straight into the log here)
    stay on the Attempts page; the roll-ups count from the first write after it, and an
    approval of an older start does not count without its start."""
    log = log_of(store)
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["CH"])
    old_vid = keys.new_id(tag)
    old_at = NOW - timedelta(hours=3)
    score, member = pack(record(old_at, "CH", "sent", "alpha", old_vid))
    await store.client.zadd(keys.attempts_log_key(SERVICE), {member: score})
    new_at = NOW - timedelta(hours=1)
    await log.add(
        SERVICE, tag, [record(new_at, "CH", "sent", "alpha", keys.new_id(tag))], created=True
    )
    assert await log.convert(SERVICE, old_vid, [ms_of(old_at)], ms_of(old_at)) == 1
    # its report changes the record (the Attempts page shows it), not the roll-ups
    old_send = record(old_at, "CH", "sent", "alpha", old_vid)
    assert await report_at(log, NOW, (old_send, "delivered")) == 1
    overview = await Insights(log).overview(SERVICE, NOW)
    assert (overview.windows["day"].starts, overview.windows["day"].approvals) == (1, 0)
    [row] = await Insights(log).providers(SERVICE, NOW)
    assert (row.attempts, row.approvals, row.delivered) == (1, 0, 0)
    assert overview.counting_since == datetime.fromtimestamp(ms_of(new_at) / 1000, UTC)
    assert len(await scan(log)) == 2


async def test_hours_expire_with_the_retention(store: Store) -> None:
    log = log_of(store, retention=2 * 3600)
    tag = keys.tag_for(TAG_KEY, SERVICE, NUMBERS["DE"])
    at = NOW - timedelta(minutes=30)
    await log.add(SERVICE, tag, [record(at, "DE", "sent", "alpha", keys.new_id(tag))], created=True)
    hour_key = keys.attempts_hour_key(SERVICE, hour_of(ms_of(at)))
    end_of_hour = (hour_of(ms_of(at)) + 1) * HOUR_MS
    ttl = await store.client.pttl(hour_key)
    assert abs(ttl - (end_of_hour + 2 * 3600 * 1000 - ms_of(NOW))) < 5000


def test_quantile_interpolates_within_buckets_as_prometheus() -> None:
    counts = [0] * (len(LATENCY_BOUNDS) + 1)
    assert quantile(counts, 0.5) is None
    counts[2] = 10  # ten calls in (0.05, 0.1]
    assert quantile(counts, 0.5) == pytest.approx(0.075)
    counts[-1] = 90  # ninety above 30 s: the last bound, as histogram_quantile
    assert quantile(counts, 0.95) == 30.0
    assert [latency_bucket(s) for s in (0.025, 0.0251, 31, None)] == ["0", "1", "10", "-"]


@pytest.mark.parametrize(("countries", "providers"), [(30, 3), (5, 2)])
async def test_bytes_per_service_hour_on_redis(
    redis_server: RedisServer, countries: int, providers: int
) -> None:
    """What docs/performance.md records: MEMORY USAGE of one service-hour's hash after a
    busy hour (every country started, approved and refused; each provider with 5 latency
    buckets in use, delivered and undelivered reports in 5 report-time buckets, approvals
    credited). It does not grow with the number of attempts."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    log = log_of(store)
    hour_start = datetime.fromtimestamp(hour_of(ms_of(NOW)) * HOUR_MS / 1000, UTC)
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(countries)]
    for round_ in range(20):
        for n, code in enumerate(codes):
            at = hour_start + timedelta(seconds=round_ * 60 + n)
            to = f"+4179{round_:03d}{n:04d}"
            tag = keys.tag_for(TAG_KEY, SERVICE, to)
            vid = keys.new_id(tag)
            provider = f"provider{(round_ + n) % providers}"
            sent = Attempt(
                id=new_id(at),
                created_at=at,
                service=SERVICE,
                status="sent",
                to=to,
                country=code,
                channel="sms",
                provider=provider,
                verification_id=vid,
            )
            refused = replace(
                sent, id=new_id(at), status="refused", provider=None, verification_id=None
            )
            await log.add(SERVICE, tag, [sent], created=True, seconds=[0.01 * 3 ** (round_ % 5)])
            await log.add(SERVICE, tag, [refused])
            await log.convert(SERVICE, vid, [ms_of(at)], ms_of(at))
            status: AttemptStatus = "undelivered" if round_ % 4 == 0 else "delivered"
            await report_at(log, at + timedelta(seconds=3 ** (round_ % 5)), (sent, status))
    hour_key = keys.attempts_hour_key(SERVICE, hour_of(ms_of(NOW)))
    fields = await client.hlen(hour_key)
    usage = await client.memory_usage(hour_key)
    encoding = await client.object("encoding", hour_key)
    print(f"\n{countries} countries, {providers} providers: {fields} fields, {usage} B, {encoding}")
    # per country s a r; per provider its accepted sends in 5 latency buckets, delivered
    # and undelivered ones in 5 report-time buckets each, and c
    assert fields == 3 * countries + providers * (5 + 5 + 5 + 1)
    assert usage is not None
    assert usage <= 16_000
    await store.aclose()
