"""What the operations console shows, read from the attempt log's hourly roll-ups
(store/attempts.py ROLL-UPS): starts, approvals and conversion per service over the last
hour, day and week, per country with a daily series, and per provider with latency
quantiles. A page reads 24 or 168 small hashes in one script call, however many attempts
the service had (docs/performance.md, "Operations console pages").

Definitions (the same the roll-ups count by):
- a *start* is a verification whose code went to at least one provider (the attempt
  sent or failed); it counts once, in the clock hour (UTC) of its first attempt;
- an *approval* is a start that was approved (converted), counted in its start's hour, so
  *conversion* = approvals / starts of the same hours;
- *refused* counts starts that abuse protection refused, in the hour they were refused;
- a provider's *attempts* are its send attempts, its *success rate* the share it
  accepted (sent; a later delivery report does not change it); *p50* / *p95* are read
  from the latency buckets as Prometheus's histogram_quantile() does (LATENCY_BOUNDS:
  off by at most the width of the bucket the quantile falls in);
- of the accepted sends, delivery reports (DLR) say *delivered* or *undelivered* (failed
  after acceptance; a later "delivered" wins, "delivered" is final); the rest have *no
  report yet*. All three count in the hour of the send, however late the report came, so
  a window's sends and their reports are the same sends. *Delivery rate* = delivered /
  (delivered + undelivered), over the sends with a report; the *report time* p50 / p95
  (send -> its report, whole seconds) is read from REPORT_BOUNDS as above;
- a provider's *approvals* are approved verifications whose last accepted send was the
  provider's, counted in that send's hour; its *conversion* = approvals / accepted sends
  (a resend through the same provider is one more send to convert).

Windows are whole clock hours ending with the current one: "hour" is the current hour
(since HH:00), "day" the last 24 hours, "week" the last 168; `Overview.window_since`
says where each begins. Roll-ups count from the first write of a version that has them;
after an upgrade, `Overview.counting_since` says from when (older records are in the log
and on the Attempts page, not in these figures) until the log holds no older record.

Reading raises VerifyError(store_unavailable) when Redis does not answer in time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from verify_service.domain.attempts import ms_of
from verify_service.store.attempts import (
    HOUR_MS,
    LATENCY_BOUNDS,
    REPORT_BOUNDS,
    AttemptStore,
    hour_of,
)

DAY_HOURS = 24
WEEK_HOURS = 7 * DAY_HOURS
UNKNOWN_COUNTRY = "??"
# The roll-up counters each page reads (store/attempts.py ROLL-UPS, by first letter).
OVERVIEW_KINDS = "sarkdu"
PROVIDER_KINDS = "nkldutc"


@dataclass(slots=True)
class Funnel:
    """Starts, approvals and refusals of one window (or one country, one bucket)."""

    starts: int = 0
    approvals: int = 0
    refused: int = 0

    @property
    def start_count(self) -> int:
        return self.starts

    @property
    def approval_count(self) -> int:
        return self.approvals

    @property
    def conversion(self) -> float | None:
        """approvals / starts; None without starts (nothing to judge)."""
        return self.approvals / self.starts if self.starts else None

    def __iadd__(self, other: Funnel) -> Funnel:
        self.starts += other.starts
        self.approvals += other.approvals
        self.refused += other.refused
        return self


@dataclass(slots=True)
class CountryRow:
    country: str
    week: Funnel
    # one per day (24 clock hours), oldest first (7 values), for the sparkline
    daily: list[Funnel]


@dataclass(slots=True)
class Overview:
    """Per window ("hour", "day", "week"), hourly buckets of the last 24 h and daily ones
    of the last 7 days (oldest first), and the countries by starts (most first)."""

    windows: dict[str, Funnel]
    hourly: list[Funnel]
    daily: list[Funnel]
    countries: list[CountryRow]
    # where each window begins (UTC, on the hour)
    window_since: dict[str, datetime]
    # when the roll-ups began counting, where the log holds older records they do not
    # count (an upgrade from a version without them); else None
    counting_since: datetime | None
    hours_read: int
    # per window, accepted sends of every provider and their delivery reports
    deliveries: dict[str, DeliveryCounts] = field(default_factory=dict)


@dataclass(slots=True)
class DeliveryCounts:
    """Accepted sends and what their delivery reports said (module docstring)."""

    accepted: int = 0
    delivered: int = 0
    undelivered: int = 0

    @property
    def unreported(self) -> int:
        """Accepted sends without a report yet."""
        return self.accepted - self.delivered - self.undelivered

    @property
    def delivery_rate(self) -> float | None:
        """delivered / (delivered + undelivered); None without reports."""
        reported = self.delivered + self.undelivered
        return self.delivered / reported if reported else None

    def __iadd__(self, other: DeliveryCounts) -> DeliveryCounts:
        self.accepted += other.accepted
        self.delivered += other.delivered
        self.undelivered += other.undelivered
        return self


@dataclass(slots=True)
class ProviderRow:
    provider: str
    attempts: int = 0
    reached: int = 0
    # of the reached (accepted) sends, by their delivery reports
    delivered: int = 0
    undelivered: int = 0
    # approvals credited to the provider (their last accepted send was its)
    approvals: int = 0
    # attempts per hour over the last 24 h, oldest first
    hourly: list[int] = field(default_factory=lambda: [0] * DAY_HOURS)
    # provider calls per latency bucket (LATENCY_BOUNDS, then one above the last bound)
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    # reported sends per report-time bucket (REPORT_BOUNDS, then one above the last)
    report_times: list[int] = field(default_factory=lambda: [0] * (len(REPORT_BOUNDS) + 1))

    @property
    def failed(self) -> int:
        return self.attempts - self.reached

    @property
    def success_rate(self) -> float | None:
        return self.reached / self.attempts if self.attempts else None

    @property
    def deliveries(self) -> DeliveryCounts:
        return DeliveryCounts(self.reached, self.delivered, self.undelivered)

    @property
    def unreported(self) -> int:
        return self.deliveries.unreported

    @property
    def delivery_rate(self) -> float | None:
        return self.deliveries.delivery_rate

    @property
    def conversion(self) -> float | None:
        """approvals / accepted sends; None without accepted sends."""
        return self.approvals / self.reached if self.reached else None

    @property
    def p50(self) -> float | None:
        """Seconds; None without timed calls."""
        return quantile(self.latency, 0.5)

    @property
    def p95(self) -> float | None:
        return quantile(self.latency, 0.95)

    @property
    def report_p50(self) -> float | None:
        """Seconds from a send to its delivery report; None without reports."""
        return quantile(self.report_times, 0.5, REPORT_BOUNDS)

    @property
    def report_p95(self) -> float | None:
        return quantile(self.report_times, 0.95, REPORT_BOUNDS)


def quantile(
    counts: list[int], q: float, bounds: tuple[float, ...] = LATENCY_BOUNDS
) -> float | None:
    """The `q` quantile (seconds) of calls counted per latency bucket (`counts[i]` calls
    in bucket i of `bounds`, LATENCY_BOUNDS or REPORT_BOUNDS, the last one above its last
    bound), interpolated within the bucket as Prometheus's histogram_quantile() does:
    linear from the bucket's lower bound (0 for the first), the last bound for a rank in
    the open-ended bucket. None without calls."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for i, count in enumerate(counts):
        if count and below + count >= rank:
            if i == len(bounds):
                return lower
            upper = bounds[i]
            return lower + (upper - lower) * max(0.0, rank - below) / count
        below += count
        if i < len(bounds):
            lower = bounds[i]
    return lower


def _hours(now: datetime, count: int) -> list[int]:
    """The last `count` clock hours, oldest first, the current one last."""
    current = hour_of(ms_of(now))
    return list(range(current - count + 1, current + 1))


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR_MS / 1000, UTC)


def _hour_counts(counters: dict[str, int]) -> tuple[dict[str, Funnel], DeliveryCounts]:
    """One hour's funnels by country, and its accepted sends of every provider with
    their delivery reports (one pass over its counters)."""
    funnels: dict[str, Funnel] = {}
    sent = DeliveryCounts()
    for name, value in counters.items():
        kind, _, rest = name.partition(":")
        if kind in ("s", "a", "r"):
            funnel = funnels.setdefault(rest or UNKNOWN_COUNTRY, Funnel())
            if kind == "s":
                funnel.starts += value
            elif kind == "a":
                funnel.approvals += value
            else:
                funnel.refused += value
        elif kind == "k":
            sent.accepted += value
        elif kind == "d":
            sent.delivered += value
        elif kind == "u":
            sent.undelivered += value
    return funnels, sent


class Insights:
    """The console's read model over the attempt log's roll-ups in `store`."""

    def __init__(self, store: AttemptStore) -> None:
        self._store = store

    async def overview(self, service: str, now: datetime) -> Overview:
        hours = _hours(now, WEEK_HOURS)
        rollups = await self._store.rollups(service, hours, OVERVIEW_KINDS)
        hourly_all: list[Funnel] = []
        hourly_sent: list[DeliveryCounts] = []
        countries: dict[str, CountryRow] = {}
        for index, counters in enumerate(rollups.hours):
            funnels, sent = _hour_counts(counters)
            hourly_sent.append(sent)
            day = index // DAY_HOURS
            total = Funnel()
            for code, funnel in funnels.items():
                total += funnel
                row = countries.get(code)
                if row is None:
                    row = countries[code] = CountryRow(code, Funnel(), [Funnel() for _ in range(7)])
                row.week += funnel
                row.daily[day] += funnel
            hourly_all.append(total)
        daily = [Funnel() for _ in range(7)]
        for index, funnel in enumerate(hourly_all):
            daily[index // DAY_HOURS] += funnel
        windows = {"hour": Funnel(), "day": Funnel(), "week": Funnel()}
        windows["hour"] += hourly_all[-1]
        for funnel in hourly_all[-DAY_HOURS:]:
            windows["day"] += funnel
        for funnel in daily:
            windows["week"] += funnel
        since = {
            "hour": _at(hours[-1]),
            "day": _at(hours[-DAY_HOURS]),
            "week": _at(hours[0]),
        }
        ranked = sorted(countries.values(), key=lambda r: (-r.week.start_count, r.country))
        missing = rollups.missing_before
        counting = None if missing is None else datetime.fromtimestamp(missing / 1000, UTC)
        deliveries = {name: DeliveryCounts() for name in windows}
        for name, count in (("hour", 1), ("day", DAY_HOURS), ("week", WEEK_HOURS)):
            for sent in hourly_sent[-count:]:
                deliveries[name] += sent
        return Overview(
            windows, hourly_all[-DAY_HOURS:], daily, ranked, since, counting, len(hours), deliveries
        )

    async def providers(self, service: str, now: datetime) -> list[ProviderRow]:
        """Per provider over the last 24 clock hours (refused starts have none)."""
        rollups = await self._store.rollups(service, _hours(now, DAY_HOURS), PROVIDER_KINDS)
        rows: dict[str, ProviderRow] = {}
        for index, counters in enumerate(rollups.hours):
            for name, value in counters.items():
                kind, _, rest = name.partition(":")
                if kind == "n":
                    row = rows.setdefault(rest, ProviderRow(rest))
                    row.attempts += value
                    row.hourly[index] += value
                elif kind == "k":
                    rows.setdefault(rest, ProviderRow(rest)).reached += value
                elif kind == "d":
                    rows.setdefault(rest, ProviderRow(rest)).delivered += value
                elif kind == "u":
                    rows.setdefault(rest, ProviderRow(rest)).undelivered += value
                elif kind == "c":
                    rows.setdefault(rest, ProviderRow(rest)).approvals += value
                elif kind in ("l", "t"):
                    provider, _, bucket = rest.rpartition(":")
                    row = rows.setdefault(provider, ProviderRow(provider))
                    counts = row.latency if kind == "l" else row.report_times
                    position = int(bucket) if bucket.isdigit() else -1
                    if 0 <= position < len(counts):
                        counts[position] += value
        return [rows[name] for name in sorted(rows)]
