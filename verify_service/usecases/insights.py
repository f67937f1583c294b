"""What the operations console shows, summed from the attempt log (issue 17's records) in
one pass per page: starts, approvals and conversion per service over the last hour, day
and week, per country with a daily series, and per provider.

Definitions (the same as the attempt summary's, by verification rather than by attempt):
a *start* is a verification with at least one send attempt (sent, failed, delivered or
undelivered) in the window; an *approval* one of those that was converted; *conversion* =
approvals / starts; *refused* counts starts that abuse protection refused. A provider's
*success rate* = its attempts that reached it (sent, delivered) / all of its attempts.

Reading raises VerifyError(store_unavailable) when Redis does not answer in time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from verify_service.domain.attempts import Attempt, ms_of
from verify_service.store.attempts import AttemptStore

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
BATCH = 5000  # records per read: few round trips, each well under the store's deadline
_REACHED = ("sent", "delivered")


@dataclass(slots=True)
class Funnel:
    """Starts, approvals and refusals of one window (or one country, one bucket)."""

    starts: set[str] = field(default_factory=set)
    approvals: set[str] = field(default_factory=set)
    refused: int = 0

    @property
    def start_count(self) -> int:
        return len(self.starts)

    @property
    def approval_count(self) -> int:
        return len(self.approvals)

    @property
    def conversion(self) -> float | None:
        """approvals / starts; None without starts (nothing to judge)."""
        return len(self.approvals) / len(self.starts) if self.starts else None

    def add(self, attempt: Attempt) -> None:
        if attempt.status == "refused":
            self.refused += 1
            return
        key = attempt.verification_id or attempt.id
        self.starts.add(key)
        if attempt.converted:
            self.approvals.add(key)


@dataclass(slots=True)
class CountryRow:
    country: str
    week: Funnel
    # one per day, oldest first (7 values), for the sparkline
    daily: list[Funnel]


@dataclass(slots=True)
class Overview:
    """Per window ("hour", "day", "week"), hourly buckets of the last 24 h and daily ones
    of the last 7 days (oldest first), and the countries by starts (most first)."""

    windows: dict[str, Funnel]
    hourly: list[Funnel]
    daily: list[Funnel]
    countries: list[CountryRow]
    attempts_read: int


@dataclass(slots=True)
class ProviderRow:
    provider: str
    attempts: int = 0
    reached: int = 0
    failed: int = 0
    # attempts per hour over the last 24 h, oldest first
    hourly: list[int] = field(default_factory=lambda: [0] * 24)

    @property
    def success_rate(self) -> float | None:
        return self.reached / self.attempts if self.attempts else None


async def _since(store: AttemptStore, service: str, since: datetime) -> AsyncIterator[Attempt]:
    since_ms = ms_of(since)
    before: tuple[int, str] | None = None
    while True:
        batch = await store.read(service, before=before, since_ms=since_ms, count=BATCH)
        for attempt in batch.attempts:
            yield attempt
        if batch.done or batch.resume is None:
            return
        before = batch.resume


class Insights:
    """The console's read model over the attempt log of `store`."""

    def __init__(self, store: AttemptStore) -> None:
        self._store = store

    async def overview(self, service: str, now: datetime) -> Overview:
        windows = {"hour": Funnel(), "day": Funnel(), "week": Funnel()}
        hourly = [Funnel() for _ in range(24)]
        daily = [Funnel() for _ in range(7)]
        countries: dict[str, CountryRow] = {}
        now_ms = ms_of(now)
        read = 0
        async for attempt in _since(self._store, service, now - WEEK):
            read += 1
            age_ms = now_ms - ms_of(attempt.created_at)
            windows["week"].add(attempt)
            day_index = 6 - min(6, max(0, age_ms // 86_400_000))
            daily[day_index].add(attempt)
            if age_ms < 86_400_000:
                windows["day"].add(attempt)
                hourly[23 - min(23, max(0, age_ms // 3_600_000))].add(attempt)
                if age_ms < 3_600_000:
                    windows["hour"].add(attempt)
            code = attempt.country or "??"
            row = countries.get(code)
            if row is None:
                row = countries[code] = CountryRow(code, Funnel(), [Funnel() for _ in range(7)])
            row.week.add(attempt)
            row.daily[day_index].add(attempt)
        ranked = sorted(countries.values(), key=lambda r: (-r.week.start_count, r.country))
        return Overview(windows, hourly, daily, ranked, read)

    async def providers(self, service: str, now: datetime) -> list[ProviderRow]:
        """Per provider over the last 24 h (attempts refused before any provider have none)."""
        rows: dict[str, ProviderRow] = {}
        now_ms = ms_of(now)
        async for attempt in _since(self._store, service, now - DAY):
            age_ms = now_ms - ms_of(attempt.created_at)
            if attempt.provider is None or age_ms >= 86_400_000:
                continue
            row = rows.setdefault(attempt.provider, ProviderRow(attempt.provider))
            row.attempts += 1
            if attempt.status in _REACHED:
                row.reached += 1
            else:
                row.failed += 1
            row.hourly[23 - min(23, max(0, age_ms // 3_600_000))] += 1
        return [rows[name] for name in sorted(rows)]
