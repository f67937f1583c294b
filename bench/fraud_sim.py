"""`make bench-fraud`: the pumping guard on simulated traffic, seeded and time-compressed.

The guard's own code runs (`abuse.fraud.PumpingGuard`, its Lua on fakeredis, or on a
throwaway redis-server with --redis) under a simulated clock: Redis's clock is moved by
the store's test offset before every call, so days of traffic take seconds. The first
guard (bench/old_guard, README defaults of its version: window and cool-down 1 h, 50
starts, 20 %) runs on the same traffic for comparison. Rate limits are off: only the
guard is measured.

Legitimate traffic: five countries (CH, DE, FR, GB, US) at their own daily volumes with
a daily peak (x0.25 at 04:00, x1.9 at 19:00 UTC), numbers drawn from each country's
mobile ranges, 75-85 % of users approve after 3-120 s (log-normal), 10 % ask for a
resend first. Scenarios (an attack starts on day 3 at 10:00 after two days of history):

    burst    sequential numbers in one DE range (+49 1521 …) at 8x DE's rate, 90 min
    slow     random numbers in one FR 1M-block at 2.5x FR's rate for 12 h: FR's conversion
             stays just above the old guard's 20 %
    spread   random numbers in six 10k-blocks of DE, GB and US at 8x DE's rate, 2 h
    country  random valid numbers anywhere in DE (any range type) at 3x DE's rate, 6 h:
             an attacker who wants DE blocked
    week     seven days, no attack

Per scenario and guard: pumped SMS sent and blocked, real users refused in the attacked
country and elsewhere (and for `country`, outside the ranges the attacker used), time and
pumped SMS before the first block. The targets of issue 20 are checked for `standard`.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import phonenumbers  # noqa: E402

from bench.old_guard import OldGuard  # noqa: E402
from verify_service.abuse.fraud import PumpingGuard  # noqa: E402
from verify_service.abuse.ranges import ranges_of  # noqa: E402
from verify_service.config import ServiceSettings, settings_from_mapping  # noqa: E402
from verify_service.domain.errors import VerifyError  # noqa: E402
from verify_service.domain.phones import PhoneNumber, parse_phone  # noqa: E402
from verify_service.store import Store, keys  # noqa: E402
from verify_service.store.fraud import FraudStore, StartVerdict  # noqa: E402

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
T0 = 1_767_571_200_000  # 2026-01-05 00:00 UTC, a Monday


@dataclass(frozen=True)
class Country:
    region: str
    code: str
    per_day: float  # legitimate starts per day (mean over the daily cycle)
    conversion: float
    # (national destination prefix, digits after it, weight): the mobile ranges real
    # users hold
    ranges: tuple[tuple[str, int, float], ...]


COUNTRIES = (
    Country("CH", "41", 200, 0.85, (("75", 7, 1), ("76", 7, 3), ("77", 7, 2), ("78", 7, 2),
                                    ("79", 7, 4))),
    Country("DE", "49", 500, 0.80, tuple(
        [(n, 7, 1.0) for n in ("1511", "1512", "1515", "1516", "1517", "1520", "1521",
                               "1522", "1523", "1573", "1575", "1577", "1578", "1590")]
        + [(n, 7, 2.0) for n in ("160", "170", "171", "175")]
        + [(n, 8, 2.0) for n in ("162", "163", "172", "173", "174", "176", "177", "178",
                                 "179")])),
    Country("FR", "33", 300, 0.78, (("6", 8, 6), ("73", 7, 1), ("75", 7, 1), ("76", 7, 1),
                                    ("77", 7, 1), ("78", 7, 1))),
    Country("GB", "44", 250, 0.82, tuple((f"7{d}", 8, 1.0) for d in "12345789")),
    Country("US", "1", 750, 0.75, tuple(
        (a, 7, 1.0) for a in ("212", "213", "305", "310", "312", "347", "404", "415",
                              "512", "617", "646", "702", "718", "773", "818", "917"))),
)  # fmt: skip
BY_REGION = {c.region: c for c in COUNTRIES}


def valid(e164: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(e164))


def draw_number(rng: random.Random, country: Country) -> str:
    prefixes = [r[0] for r in country.ranges]
    weights = [r[2] for r in country.ranges]
    while True:
        i = rng.choices(range(len(prefixes)), weights)[0]
        prefix, digits = prefixes[i], country.ranges[i][1]
        e164 = f"+{country.code}{prefix}{rng.randrange(10**digits):0{digits}d}"
        if valid(e164):
            return e164


def daily_factor(t_ms: int) -> float:
    """Traffic relative to the daily mean: x0.25 at 04:00, x1.9 at 19:00 (UTC)."""
    hour = (t_ms % DAY) / HOUR
    return 1.075 + 0.825 * math.cos((hour - 19) / 24 * 2 * math.pi) ** 1


# --- the guards under test ----------------------------------------------------------------


class Guard:
    """One guard behind one interface: start -> refused?, approved."""

    name = ""

    async def start(self, t_ms: int, phone: PhoneNumber) -> bool:
        raise NotImplementedError

    async def approved(self, t_ms: int, phone: PhoneNumber) -> None:
        raise NotImplementedError

    async def why(self) -> str:
        """What refused the last start (for --trace); empty when the guard cannot say."""
        return ""


def _offset(t_ms: int) -> int:
    return t_ms - int(time.time() * 1000)


class NewGuard(Guard):
    def __init__(self, store: Store, mode: str, **overrides: Any) -> None:
        settings = settings_from_mapping(
            {
                "providers": {"console": {"kind": "console"}},
                "services": [
                    {
                        "name": "sim",
                        "providers": ["console"],
                        "fraud_guard": {"mode": mode, **overrides},
                    }
                ],
            },
            {},
        )
        self.name = mode
        self.store = store
        self.service: ServiceSettings = settings.services[0]
        self.guard = PumpingGuard(settings, store, _Quiet())
        self.last: StartVerdict | None = None
        counters = self.guard.counters
        judge = counters.start

        async def start(*args: Any, **kwargs: Any) -> StartVerdict:
            self.last = await judge(*args, **kwargs)
            return self.last

        counters.start = start  # type: ignore[method-assign]

    async def why(self) -> str:
        last = self.last
        if last is None:
            return ""
        # The service's alert (until when, s from now) and its count of unconverted
        # repeats into blocks without a record, as stored.
        k = keys.fraud_keys(self.service.name)
        root, fresh = await self.store.client.hmget(k.ranges, ["*", "#fresh"])
        alert = ""
        if root:
            until = float(root.split()[-1])
            stamp = float(root.split()[4])
            if until > stamp:
                alert = f" [alerted {(until - stamp) / 1000:.0f} s more, fresh {fresh}]"
        if last.state == "blocked":
            return f"blocked {last.prefix}{alert}"
        return (
            f"{last.state} {last.prefix} {last.level} on {last.starts:.1f} starts, "
            f"{last.approvals:.1f} approved, baseline {last.baseline:.2f}, "
            f"strike {last.strikes}{alert}"
        )

    async def start(self, t_ms: int, phone: PhoneNumber) -> bool:
        self.store.clock_offset_ms = _offset(t_ms)
        self.last = None
        try:
            await self.guard.before_send(self.service, phone)
        except VerifyError as exc:
            if exc.code != "fraud_suspected":
                raise
            return True
        return False

    async def approved(self, t_ms: int, phone: PhoneNumber) -> None:
        self.store.clock_offset_ms = _offset(t_ms)
        await self.guard.approved(self.service, phone.e164)


class OldGuardAdapter(Guard):
    name = "old"

    def __init__(self, store: Store) -> None:
        self.guard = OldGuard(store.client)

    async def start(self, t_ms: int, phone: PhoneNumber) -> bool:
        return await self.guard.start("sim", phone.region or "001", _offset(t_ms)) != "ok"

    async def approved(self, t_ms: int, phone: PhoneNumber) -> None:
        await self.guard.approved("sim", phone.region or "001", _offset(t_ms))


class _Quiet:
    def blocked(self, service: str, reason: str, country: str) -> None:
        pass

    def fraud_guard_tripped(self, service: str, country: str, level: str) -> None:
        pass


# --- traffic ---------------------------------------------------------------------------------


@dataclass(order=True)
class Event:
    t_ms: int
    seq: int
    kind: str = field(compare=False)  # start | approve
    e164: str = field(compare=False)
    pumped: bool = field(compare=False, default=False)
    converts: bool = field(compare=False, default=False)
    resend: bool = field(compare=False, default=False)


@dataclass(frozen=True)
class Attack:
    country: str
    rate_per_day: float
    start_ms: int
    duration_ms: int
    numbers: Callable[[random.Random], str]


@dataclass(frozen=True)
class Scenario:
    name: str
    days: float
    attack: Attack | None = None


def sequential(start: int, prefix: str, digits: int) -> Callable[[random.Random], str]:
    state = {"next": start}

    def draw(_: random.Random) -> str:
        while True:
            value = state["next"]
            state["next"] += 1
            e164 = f"{prefix}{value:0{digits}d}"
            if valid(e164):
                return e164

    return draw


def within(prefixes: list[str], total_digits: dict[str, int]) -> Callable[[random.Random], str]:
    """Random numbers inside the given blocks (E.164 prefix -> digits of a whole number)."""

    def draw(rng: random.Random) -> str:
        while True:
            prefix = rng.choice(prefixes)
            rest = total_digits[prefix] - (len(prefix) - 1)
            e164 = f"{prefix}{rng.randrange(10**rest):0{rest}d}"
            if valid(e164):
                return e164

    return draw


def anywhere(code: str) -> Callable[[random.Random], str]:
    """Random valid numbers of a country, any length and range type."""

    def draw(rng: random.Random) -> str:
        while True:
            length = rng.choice((9, 10, 10, 11, 11))
            e164 = (
                f"+{code}{rng.randrange(1, 10):d}{rng.randrange(10 ** (length - 1)):0{length - 1}d}"
            )
            if valid(e164):
                return e164

    return draw


ATTACK_AT = 2 * DAY + 10 * HOUR


def scenarios() -> list[Scenario]:
    de, fr = BY_REGION["DE"], BY_REGION["FR"]
    return [
        Scenario(
            "burst",
            2.75,
            Attack("DE", 8 * de.per_day, ATTACK_AT, 90 * MINUTE,
                   sequential(1_000_000, "+491521", 7)),
        ),
        Scenario(
            "slow",
            3.25,
            Attack("FR", 2.5 * fr.per_day, ATTACK_AT, 12 * HOUR,
                   within(["+33756"], {"+33756": 11})),
        ),
        Scenario(
            "spread",
            2.75,
            Attack(
                "DE",
                8 * de.per_day,
                ATTACK_AT,
                2 * HOUR,
                within(
                    ["+491577123", "+491590456", "+447400123", "+447400987", "+1212555",
                     "+1917444"],
                    {"+491577123": 13, "+491590456": 13, "+447400123": 12, "+447400987": 12,
                     "+1212555": 11, "+1917444": 11},
                ),
            ),
        ),
        Scenario("country", 3.0, Attack("DE", 3 * de.per_day, ATTACK_AT, 6 * HOUR, anywhere("49"))),
        Scenario("week", 7.0),
    ]  # fmt: skip


def build_events(scenario: Scenario, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    seq = 0
    end = int(scenario.days * DAY)
    for country in COUNTRIES:
        peak = country.per_day * 2.0 / DAY  # thinning: the daily factor stays below 2
        t = 0.0
        while True:
            t += rng.expovariate(peak)
            if t >= end:
                break
            if rng.random() > country.per_day * daily_factor(int(t)) / DAY / peak:
                continue
            e164 = draw_number(rng, country)
            converts = rng.random() < country.conversion
            resend = rng.random() < 0.10
            seq += 1
            events.append(Event(T0 + int(t), seq, "start", e164, False, converts, resend))
    attack = scenario.attack
    if attack is not None:
        t = float(attack.start_ms)
        while True:
            t += rng.expovariate(attack.rate_per_day / DAY)
            if t >= attack.start_ms + attack.duration_ms:
                break
            seq += 1
            events.append(Event(T0 + int(t), seq, "start", attack.numbers(rng), True))
    heapq.heapify(events)
    return events


# --- one run -----------------------------------------------------------------------------------


@dataclass
class Tally:
    pumped_sent: int = 0
    pumped_blocked: int = 0
    real_attacked: int = 0
    real_refused_attacked: int = 0
    real_elsewhere: int = 0
    real_refused_elsewhere: int = 0
    real_refused_outside_used: int = 0
    first_block_ms: int | None = None
    pumped_before_first_block: int = 0
    used_ranges: set[str] = field(default_factory=set)
    refused_real_ndcs: list[str] = field(default_factory=list)
    refused_real: list[str] = field(default_factory=list)  # for --trace

    def row(self) -> dict[str, Any]:
        pumped = self.pumped_sent + self.pumped_blocked
        return {
            "pumped": pumped,
            "pumped_sent": self.pumped_sent,
            "pumped_blocked_pct": round(100 * self.pumped_blocked / pumped, 1) if pumped else None,
            "real_attacked": self.real_attacked,
            "real_refused_attacked": self.real_refused_attacked,
            "real_refused_attacked_pct": round(
                100 * self.real_refused_attacked / max(1, self.real_attacked), 2
            ),
            "real_elsewhere": self.real_elsewhere,
            "real_refused_elsewhere": self.real_refused_elsewhere,
            "real_refused_outside_used": self.real_refused_outside_used,
            "first_block_s": None
            if self.first_block_ms is None
            else round(self.first_block_ms / 1000, 1),
            "pumped_before_first_block": self.pumped_before_first_block,
        }


def _ndc(e164: str) -> str:
    ranges = ranges_of(e164)
    return ranges[2].prefix if len(ranges) > 2 else ranges[1].prefix


async def run(scenario: Scenario, guard: Guard, seed: int) -> Tally:
    events = build_events(scenario, seed)
    attack = scenario.attack
    attacked = attack.country if attack else None
    tally = Tally()
    seq = 10**9
    phones: dict[str, PhoneNumber] = {}
    rng = random.Random(seed + 1)
    while events:
        event = heapq.heappop(events)
        phone = phones.get(event.e164) or parse_phone(event.e164, "ZZ")
        phones[event.e164] = phone
        if event.kind == "approve":
            await guard.approved(event.t_ms, phone)
            continue
        refused = await guard.start(event.t_ms, phone)
        if event.pumped:
            tally.used_ranges.add(_ndc(event.e164))
            if refused:
                tally.pumped_blocked += 1
                if tally.first_block_ms is None:
                    assert attack is not None
                    tally.first_block_ms = event.t_ms - T0 - attack.start_ms
            else:
                tally.pumped_sent += 1
                if tally.first_block_ms is None:
                    tally.pumped_before_first_block += 1
            continue
        in_attacked = phone.region == attacked
        if in_attacked:
            tally.real_attacked += 1
        else:
            tally.real_elsewhere += 1
        if refused:
            if in_attacked:
                tally.real_refused_attacked += 1
            else:
                tally.real_refused_elsewhere += 1
            tally.refused_real_ndcs.append(_ndc(event.e164))
            tally.refused_real.append(
                f"{(event.t_ms - T0) / HOUR:7.2f} h {phone.region} "
                f"{ranges_of(event.e164)[-1].prefix} {await guard.why()}"
            )
            continue
        if event.resend:  # asks for the code again before using it
            seq += 1
            delay = rng.randint(30_000, 90_000)
            heapq.heappush(
                events, Event(event.t_ms + delay, seq, "start", event.e164, False, event.converts)
            )
        elif event.converts:
            seq += 1
            delay = int(min(600_000, max(3_000, rng.lognormvariate(math.log(15_000), 0.8))))
            heapq.heappush(events, Event(event.t_ms + delay, seq, "approve", event.e164))
    tally.real_refused_outside_used = sum(
        1 for ndc in tally.refused_real_ndcs if ndc not in tally.used_ranges
    )
    return tally


# --- the report ------------------------------------------------------------------------------

GUARDS = ("old", "basic", "standard", "max")


async def open_store(redis_url: str | None) -> Store:
    if redis_url is None:
        store = Store.embedded()
    else:
        store = Store.from_url(redis_url)
        await store.client.flushdb()
    await store.load_scripts()
    return store


def make_guard(name: str, store: Store) -> Guard:
    return OldGuardAdapter(store) if name == "old" else NewGuard(store, name)


def check_targets(rows: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Issue 20's targets for `standard`; one line per miss."""
    misses = []
    std = {name: by_guard["standard"] for name, by_guard in rows.items() if "standard" in by_guard}

    def need(ok: bool, text: str) -> None:
        if not ok:
            misses.append(text)

    for name, floor in (("burst", 95.0), ("spread", 95.0), ("slow", 80.0)):
        if name in std:
            got = std[name]["pumped_blocked_pct"] or 0.0
            need(got >= floor, f"{name}: {got} % of pumped SMS blocked, target >= {floor} %")
    for name in ("burst", "slow", "spread"):
        if name in std:
            row = std[name]
            need(
                row["real_refused_attacked_pct"] <= 1.0,
                f"{name}: {row['real_refused_attacked_pct']} % of real users refused in the "
                "attacked country, target <= 1 %",
            )
            need(
                row["real_refused_elsewhere"] == 0,
                f"{name}: {row['real_refused_elsewhere']} real users refused elsewhere, target 0",
            )
    if "country" in std:
        row = std["country"]
        need(
            row["real_refused_outside_used"] == 0 and row["real_refused_elsewhere"] == 0,
            f"country: {row['real_refused_outside_used']} real users refused outside the "
            f"ranges the attacker used, {row['real_refused_elsewhere']} elsewhere; target 0",
        )
    if "week" in std:
        row = std["week"]
        total = row["real_attacked"] + row["real_elsewhere"]
        refused = row["real_refused_attacked"] + row["real_refused_elsewhere"]
        need(
            refused <= 0.001 * total,
            f"week: {refused} of {total} real users refused, target <= 0.1 %",
        )
    return misses


def table(rows: dict[str, dict[str, dict[str, Any]]]) -> str:
    head = (
        "| scenario | guard | pumped SMS | sent | blocked | real refused, attacked country "
        "| real refused elsewhere | outside used ranges | first block after | pumped before it |"
    )
    lines = [head, "|" + "---|" * 10]
    for name, by_guard in rows.items():
        for guard, r in by_guard.items():
            attacked = (
                f"{r['real_refused_attacked']}/{r['real_attacked']} "
                f"({r['real_refused_attacked_pct']} %)"
            )
            first = "never" if r["first_block_s"] is None else f"{r['first_block_s']} s"
            blocked = "-" if r["pumped_blocked_pct"] is None else f"{r['pumped_blocked_pct']} %"
            lines.append(
                f"| {name} | {guard} | {r['pumped']} | {r['pumped_sent']} | {blocked} | "
                f"{attacked if name != 'week' else '-'} | "
                f"{r['real_refused_elsewhere']}/{r['real_elsewhere']} | "
                f"{r['real_refused_outside_used'] if name == 'country' else '-'} | {first} | "
                f"{r['pumped_before_first_block'] if r['pumped'] else '-'} |"
            )
    return "\n".join(lines)


async def memory_per_range(redis_url: str, ranges: int = 20_000) -> dict[str, float]:
    """Bytes per counted range on a redis-server: random numbers in many countries until
    about `ranges` ranges exist, then MEMORY USAGE of the counters and their LRU index."""
    store = await open_store(redis_url)
    # Allow-listed everywhere: counted, never blocked (random numbers never approve).
    guard = NewGuard(store, "standard", max_ranges=ranges, allowed_prefixes=["+1", "+3", "+4"])
    rng = random.Random(7)
    counters = FraudStore(store)
    for _ in range(4 * ranges // 500):  # bounded: each batch adds ~1500 new ranges
        if (await counters.memory("sim"))["count"] >= ranges:
            break
        for _ in range(500):
            country = rng.choice(COUNTRIES)
            await guard.start(T0, parse_phone(draw_number(rng, country), "ZZ"))
    sizes = await counters.memory("sim")
    await store.aclose()
    return {
        "ranges": sizes["count"],
        "bytes_counters": sizes["ranges"],
        "bytes_lru": sizes["lru"],
        "bytes_per_range": round((sizes["ranges"] + sizes["lru"]) / sizes["count"], 1),
    }


def parse_seeds(text: str) -> list[int]:
    """ "20", "20,22" or "20-25"."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def seeds_table(by_seed: dict[int, dict[str, dict[str, dict[str, Any]]]], guard: str) -> str:
    """One guard's figures, seeds x scenarios: pumped SMS blocked, real users refused in
    the attacked country and elsewhere (the country attacker: outside the ranges it used),
    and for the week real users refused of all."""
    names = [name for name in next(iter(by_seed.values())) if name]
    lines = [
        "| seed | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for seed, rows in by_seed.items():
        cells = []
        for name in names:
            r = rows[name].get(guard)
            if r is None:
                cells.append("-")
            elif name == "week":
                refused = r["real_refused_attacked"] + r["real_refused_elsewhere"]
                cells.append(f"{refused}/{r['real_attacked'] + r['real_elsewhere']} refused")
            else:
                elsewhere = r["real_refused_elsewhere"]
                if name == "country":
                    elsewhere = f"{elsewhere}, outside used {r['real_refused_outside_used']}"
                cells.append(
                    f"{r['pumped_blocked_pct']} % · {r['real_refused_attacked']}/"
                    f"{r['real_attacked']} · {elsewhere}"
                )
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", "--seeds", dest="seeds", default="20", help="20, 20,22 or 20-25")
    parser.add_argument("--scenarios", default="burst,slow,spread,country,week")
    parser.add_argument("--guards", default=",".join(GUARDS))
    parser.add_argument(
        "--store",
        choices=("auto", "fakeredis", "redis"),
        default="auto",
        help="auto: a throwaway redis-server when the binary is installed, else fakeredis",
    )
    parser.add_argument("--trace", action="store_true", help="print every real user refused")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "fraud_results.json")
    args = parser.parse_args()
    wanted = args.scenarios.split(",")
    guards = args.guards.split(",")
    seeds = parse_seeds(args.seeds)
    server = None
    redis_url = None
    if args.store == "redis" or (args.store == "auto" and shutil.which("redis-server")):
        from tests.support.redis_server import start_redis

        server = start_redis()
        redis_url = server.url
    by_seed: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}
    misses: list[str] = []
    started = time.perf_counter()
    try:
        for seed in seeds:
            rows: dict[str, dict[str, dict[str, Any]]] = by_seed.setdefault(seed, {})
            for scenario in scenarios():
                if scenario.name not in wanted:
                    continue
                rows[scenario.name] = {}
                for name in guards:
                    store = await open_store(redis_url)
                    tally = await run(scenario, make_guard(name, store), seed)
                    await store.aclose()
                    rows[scenario.name][name] = tally.row()
                    print(
                        f"{seed} {scenario.name:8} {name:9} {tally.row()}",
                        file=sys.stderr,
                        flush=True,
                    )
                    if args.trace:
                        for line in tally.refused_real:
                            print(f"    refused {line}", file=sys.stderr, flush=True)
            misses += [f"seed {seed}: {miss}" for miss in check_targets(rows)]
        memory = await memory_per_range(redis_url) if redis_url and len(seeds) == 1 else None
    finally:
        if server is not None:
            server.stop()
    if len(seeds) == 1:
        print(table(by_seed[seeds[0]]))
    else:
        for name in guards:
            print(
                f"\n{name}: pumped SMS blocked · real users refused in the attacked country "
                "· elsewhere\n"
            )
            print(seeds_table(by_seed, name))
    if memory:
        print(f"\nmemory: {memory}")
    print(
        f"\n{len(misses)} targets missed in standard mode ({time.perf_counter() - started:.0f} s)"
    )
    for miss in misses:
        print(f"  MISSED {miss}")
    args.json.write_text(
        json.dumps(
            {
                "seeds": seeds,
                "rows": {str(k): v for k, v in by_seed.items()},
                "memory": memory,
                "missed": misses,
            },
            indent=1,
        )
    )
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
