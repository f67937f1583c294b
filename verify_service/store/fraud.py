"""The fraud guard's state in Redis: decayed start and approval counters per number range,
the blocks, and the operators' allow-list, all keys of one service under one hash tag
(`keys.fraud_keys`). A start is one EVALSHA (`fraud_start.lua` judges and counts), an
approval one (`fraud_approve.lua`). Time is Redis `TIME` plus the store's test offset,
like the verifications. The rules are in `abuse.fraud`; this module only moves values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verify_service.store import keys
from verify_service.store.scripts import Call
from verify_service.store.verifications import Store, store_call

MAX_ALLOWED = 1000  # allow-list entries per service: operators' work, bounded all the same
# Seconds within which starts to the same number count once (a resend is no new evidence).
REPEAT_WINDOW = 600
# Lifted blocks kept per service for the console's recent trips, and for how long (s): as
# long as an ended block's record stays in the blocks hash (abuse.fraud.STRIKE_MEMORY).
LIFTS_KEPT = 50
LIFTS_TTL = 86400


@dataclass(frozen=True, slots=True)
class GuardArgs:
    """The knobs of one service's guard as the script takes them (see fraud_start.lua):
    times in ms, conversions as fractions, counts in starts."""

    window_ms: int
    baseline_ms: int
    ratio: float
    min_starts: int
    repeat_min_starts: int
    min_conversion: float
    prior: float
    prior_weight: float
    new_allowance: float
    growth: float
    healthy_min: float
    cooldown_ms: int
    max_cooldown_ms: int
    strike_memory_ms: int
    max_ranges: int
    suspect_factor: float
    alert_factor: float
    fresh_allowance: float

    @property
    def ttl_ms(self) -> int:
        return 4 * self.baseline_ms

    def argv(self) -> list[Any]:
        return [
            self.window_ms,
            self.baseline_ms,
            repr(self.ratio),
            self.min_starts,
            self.repeat_min_starts,
            repr(self.min_conversion),
            repr(self.prior),
            repr(self.prior_weight),
            repr(self.new_allowance),
            repr(self.growth),
            repr(self.healthy_min),
            self.cooldown_ms,
            self.max_cooldown_ms,
            self.strike_memory_ms,
            self.max_ranges,
            self.ttl_ms,
            repr(self.suspect_factor),
            repr(self.alert_factor),
            repr(self.fresh_allowance),
        ]


@dataclass(frozen=True, slots=True)
class StartVerdict:
    """`ok`; `blocked` (a block of `prefix` refused it, `retry_after` s left); `tripped`
    (this start blocked `prefix` at `level`, on `starts` recent starts of which `approvals`
    approved against a baseline conversion `baseline`, its `strikes`-th block in a row, and
    was refused); `noted` (the same, but a narrower range of this number has a healthy
    record, so this start passed)."""

    state: str
    retry_after: int = 0
    prefix: str = ""
    level: str = ""
    starts: float = 0.0
    approvals: float = 0.0
    baseline: float = 0.0
    strikes: int = 0


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """One block as stored: times in ms of Redis's clock; `refused` starts since."""

    prefix: str
    until_ms: int
    at_ms: int
    starts: float
    approvals: float
    baseline: float
    strikes: int
    level: str
    refused: int

    @classmethod
    def parse(cls, prefix: str, raw: str, refused: str | None) -> BlockRecord:
        until, at, starts, approvals, baseline, strikes, level = raw.split(" ", 6)
        return cls(
            prefix,
            int(float(until)),
            int(float(at)),
            float(starts),
            float(approvals),
            float(baseline),
            int(strikes),
            level,
            int(refused or 0),
        )


@dataclass(frozen=True, slots=True)
class AllowRecord:
    prefix: str
    at_ms: int
    actor: str


@dataclass(frozen=True, slots=True)
class LiftRecord:
    """A block an operator (`actor`) lifted at `at_ms` (Redis's clock), as it was then."""

    at_ms: int
    actor: str
    block: BlockRecord

    @classmethod
    def parse(cls, raw: str) -> LiftRecord:
        head, _, record = raw.partition("\t")
        at, prefix, refused, actor = head.split(" ", 3)
        return cls(int(float(at)), actor, BlockRecord.parse(prefix, record, refused))


@dataclass(frozen=True, slots=True)
class FraudState:
    """What operators see: Redis's time (ms), the blocks still in force (newest first), the
    allow-list, and the recent trips: blocks that ended within the last day (they stay
    stored that long, abuse.fraud.STRIKE_MEMORY) and those lifted (newest first)."""

    now_ms: int
    blocks: list[BlockRecord]
    allowed: list[AllowRecord]
    ended: list[BlockRecord] = field(default_factory=list)
    lifted: list[LiftRecord] = field(default_factory=list)


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


# The verdicts after which a start goes on (fraud_start.lua's first reply word).
PASSED = ("ok", "noted")


def verdict(reply: Sequence[Any]) -> StartVerdict:
    """fraud_start.lua's reply as a StartVerdict."""
    state = str(reply[0])
    if state == "ok":
        return StartVerdict(state)
    if state == "blocked":
        return StartVerdict(state, int(reply[1]), str(reply[2]))
    return StartVerdict(
        state,
        int(reply[1]),
        str(reply[2]),
        str(reply[3]),
        float(reply[4]),
        float(reply[5]),
        float(reply[6]),
        int(reply[7]),
    )


class FraudStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(self, *args: Any, **kwargs: Any) -> StartVerdict:
        """Judge and count one start: `start_call`'s call (its arguments), run alone."""
        call = self.start_call(*args, **kwargs)
        with store_call(self.store.deadline):
            reply = await self.store.scripts.run(call.name, call.keys, call.args)
        return verdict(reply)

    def start_call(
        self,
        service: str,
        prefixes: Sequence[str],
        levels: Sequence[str],
        confidence: Sequence[float],
        candidates: Sequence[str],
        args: GuardArgs,
        *,
        allowed: bool,
        number_id: str,
    ) -> Call:
        """The call that judges and counts one start to a number whose ranges are
        `prefixes` (broadest first, the service-wide one first) at `levels`, each judged at
        `confidence` (a standard normal quantile); `candidates` are the number's prefixes
        an allow-list entry may match; `allowed`: the config allow-lists it; `number_id`:
        a digest of the number (`keys.number_digest`), to count a repeat within
        REPEAT_WINDOW once. Run alone (`start`) or ahead of others (`Scripts.chain`, going
        on when the start may pass: PASSED); `verdict` reads its reply."""
        k = keys.fraud_keys(service)
        return Call(
            "fraud_start",
            [k.ranges, k.lru, k.blocks, k.allow, k.seen],
            [
                self.store.clock_offset_ms,
                *args.argv(),
                "1" if allowed else "0",
                " ".join(prefixes),
                " ".join(levels),
                " ".join(repr(z) for z in confidence),
                " ".join(candidates),
                number_id,
                REPEAT_WINDOW * 1000,
            ],
            goes_on=PASSED,
        )

    async def approved(self, service: str, prefixes: Sequence[str], args: GuardArgs) -> None:
        """Count one approval in the ranges `prefixes`: `approve_call`'s call, run alone."""
        call = self.approve_call(service, prefixes, args)
        with store_call(self.store.deadline):
            await self.store.scripts.run(call.name, call.keys, call.args)

    def approve_call(self, service: str, prefixes: Sequence[str], args: GuardArgs) -> Call:
        """The call that counts one approval in the ranges `prefixes` (fraud_approve.lua;
        replies ['ok']): run alone (`approved`) or after the approval itself
        (`Store.finish`)."""
        k = keys.fraud_keys(service)
        return Call(
            "fraud_approve",
            [k.ranges, k.lru],
            [
                self.store.clock_offset_ms,
                args.window_ms,
                args.baseline_ms,
                args.ttl_ms,
                " ".join(prefixes),
            ],
        )

    async def state(self, service: str) -> FraudState:
        k = keys.fraud_keys(service)
        with store_call(self.store.deadline):
            now, blocks, allowed, lifts = await self.store.scripts.run(
                "fraud_list", [k.blocks, k.allow, k.lifts], [self.store.clock_offset_ms]
            )
        now_ms = int(float(now))
        fields = _pairs(blocks)
        records = [
            BlockRecord.parse(prefix, raw, fields.get(prefix + "#r"))
            for prefix, raw in fields.items()
            if not prefix.endswith("#r")
        ]
        allow = []
        for prefix, raw in _pairs(allowed).items():
            at, actor = raw.split(" ", 1)
            allow.append(AllowRecord(prefix, int(float(at)), actor))
        newest = sorted(records, key=lambda r: -r.at_ms)
        return FraudState(
            now_ms,
            [r for r in newest if r.until_ms > now_ms],
            sorted(allow, key=lambda r: r.prefix),
            [r for r in newest if r.until_ms <= now_ms],
            [LiftRecord.parse(str(raw)) for raw in lifts],
        )

    async def lift(
        self, service: str, prefix: str, actor: str = "-"
    ) -> tuple[BlockRecord, int] | None:
        """Lift the block of `prefix` (None when it has none in force): its record as it
        was, with the starts it refused, and Redis's time (ms). The lift is kept, with
        `actor`, among the recent trips (LIFTS_KEPT, LIFTS_TTL)."""
        k = keys.fraud_keys(service)
        args = [
            self.store.clock_offset_ms,
            prefix,
            " ".join(actor.split()) or "-",
            LIFTS_KEPT,
            LIFTS_TTL * 1000,
        ]
        with store_call(self.store.deadline):
            reply = await self.store.scripts.run("fraud_lift", [k.ranges, k.blocks, k.lifts], args)
        if reply[0] != "lifted":
            return None
        return BlockRecord.parse(prefix, str(reply[2]), str(reply[3])), int(float(reply[1]))

    async def allow(self, service: str, prefix: str, actor: str) -> int | None:
        """Allow-list `prefix` as `actor` (who is recorded): Redis's time (ms), or None when
        the list already holds MAX_ALLOWED other ranges."""
        k = keys.fraud_keys(service)
        with store_call(self.store.deadline):
            reply = await self.store.scripts.run(
                "fraud_allow", [k.allow], [self.store.clock_offset_ms, prefix, actor, MAX_ALLOWED]
            )
        return int(float(reply[1])) if reply[0] == "ok" else None

    async def unallow(self, service: str, prefix: str) -> bool:
        """Take `prefix` off the allow-list; False when it was not on it."""
        k = keys.fraud_keys(service)
        with store_call(self.store.deadline):
            reply = await self.store.scripts.run(
                "fraud_allow", [k.allow], [self.store.clock_offset_ms, prefix, "", MAX_ALLOWED]
            )
        return str(reply[0]) == "1"

    async def memory(self, service: str) -> dict[str, int]:
        """Bytes Redis holds for the service's guard, by key (MEMORY USAGE), and the number
        of ranges counted: for the memory figures in docs/fraud.md."""
        k = keys.fraud_keys(service)
        client = self.store.client
        sizes = {
            name: int(await client.memory_usage(key) or 0)
            for name, key in (("ranges", k.ranges), ("lru", k.lru), ("blocks", k.blocks))
        }
        sizes["count"] = int(await client.hlen(k.ranges))
        return sizes
