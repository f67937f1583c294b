"""The SMS pumping guard (docs/fraud.md): per number range, recent conversion against the
baseline the service has learnt, and a block of the narrowest range that explains an
anomaly. The statistics run in Redis (`store.fraud`, one Lua call per start and per
approval); this module holds the rules' parameters, the protection modes, and what a
verdict means for the caller (a `fraud_suspected` refusal, a log line, a metric).

A range is anomalous when, with 1 - Φ(-z) confidence, its recent conversion is below
`ratio` x its baseline: the Wilson score interval's upper bound of approvals / starts
(Wilson 1927; Agresti & Coull 1998 for why it behaves at small counts) is below that
line. Counters decay exponentially (time constants `window` and `baseline`), so memory
per range is constant and "recent" slides without buckets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.abuse.ranges import country_of, prefixes_of, ranges_of, ranges_of_phone
from verify_service.config import ServiceSettings, Settings
from verify_service.config.abuse import FraudGuard as GuardSettings
from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumber
from verify_service.store import keys
from verify_service.store.fraud import FraudStore, GuardArgs, StartVerdict, verdict
from verify_service.store.scripts import Call, failed
from verify_service.store.verifications import Store, store_call

log = logging.getLogger("verify_service.abuse")


@dataclass(frozen=True, slots=True)
class Mode:
    """How much evidence a block needs: `z` (confidence), `ratio` (how far below the
    baseline), `min_starts` (recent starts before a range is judged; `repeat_min_starts`
    for one blocked within the last day), `new_allowance` (unconverted starts a country
    without history gets, plus `growth` per approval), `cooldown` (s, first block) and
    `fresh_allowance` (unconverted repeats into 10k-blocks without a record the service
    takes within its recent window before it is alerted and such a block is judged on
    its second start: the spread attack's shape, docs/fraud.md)."""

    z: float
    ratio: float
    min_starts: int
    repeat_min_starts: int
    new_allowance: float
    growth: float
    cooldown: int
    fresh_allowance: float


MODES = {
    # Few false blocks: a range must convert at under a third of its baseline with
    # 99.98 % confidence; more pumped SMS go out before the first block.
    "basic": Mode(z=3.5, ratio=0.35, min_starts=6, repeat_min_starts=3, new_allowance=20,
                  growth=2.0, cooldown=900, fresh_allowance=6),
    # The default: under half the baseline with 99.87 % confidence.
    "standard": Mode(z=3.0, ratio=0.5, min_starts=4, repeat_min_starts=2, new_allowance=10,
                     growth=2.0, cooldown=3600, fresh_allowance=3),
    # Blocks early (under two thirds of the baseline, 99 %): least pumping, more
    # legitimate users caught in a block when their range converts poorly.
    "max": Mode(z=2.33, ratio=0.65, min_starts=3, repeat_min_starts=2, new_allowance=5,
                growth=1.0, cooldown=7200, fresh_allowance=2),
}  # fmt: skip
# The narrower the range, the less real users cluster in it (a block of 100 numbers sees
# two unrelated users in a day at most), so the less confidence a verdict needs: a run of
# unconverted starts in one 100-block is the sequential pumping list's signature.
LEVEL_CONFIDENCE = {"block_1m": 0.7, "block_10k": 0.5, "block_100": 0.4}
# A range blocked in the last day (the country included), or one below the country that
# had a narrower range blocked, is judged at this share of the confidence (the attack
# tends to come back, or move on within it); and for one first cool-down after a trip
# (not prolonged by trips made meanwhile), every range at this.
SUSPECT_FACTOR = 0.5
ALERT_FACTOR = 0.6
# Conversion assumed before a service has history, and how many starts of a range's own
# history outweigh its parent's baseline.
PRIOR_CONVERSION = 0.7
PRIOR_WEIGHT = 20.0
# Approvals over the baseline horizon that make a range healthy: a block of a broader
# range lets its starts through.
HEALTHY_APPROVALS = 3.0
# A block is remembered this long after it ends: a repeat needs less evidence and lasts
# twice as long.
STRIKE_MEMORY = 86400


def guard_args(guard: GuardSettings) -> GuardArgs:
    mode = MODES[guard.mode]
    return GuardArgs(
        window_ms=guard.window * 1000,
        baseline_ms=guard.baseline * 1000,
        ratio=mode.ratio,
        min_starts=guard.min_starts or mode.min_starts,
        repeat_min_starts=min(guard.min_starts or mode.min_starts, mode.repeat_min_starts),
        min_conversion=guard.min_conversion or 0.0,
        prior=PRIOR_CONVERSION,
        prior_weight=PRIOR_WEIGHT,
        new_allowance=mode.new_allowance,
        growth=mode.growth,
        healthy_min=HEALTHY_APPROVALS,
        cooldown_ms=min(guard.cooldown or mode.cooldown, guard.max_cooldown) * 1000,
        max_cooldown_ms=guard.max_cooldown * 1000,
        strike_memory_ms=STRIKE_MEMORY * 1000,
        max_ranges=guard.max_ranges,
        suspect_factor=SUSPECT_FACTOR,
        alert_factor=ALERT_FACTOR,
        fresh_allowance=mode.fresh_allowance,
    )


class FraudObserver(Protocol):
    def blocked(self, service: str, reason: str, country: str) -> None: ...

    def fraud_guard_tripped(self, service: str, country: str, level: str) -> None: ...


class PumpingGuard:
    """The guard of every service of one app: `before_send` on each start that may send,
    `approved` on each approval."""

    def __init__(self, settings: Settings, store: Store, observer: FraudObserver) -> None:
        self.counters = FraudStore(store)
        self._observer = observer
        self._args = {s.name: guard_args(s.fraud_guard) for s in settings.services}
        self._z = {s.name: MODES[s.fraud_guard.mode].z for s in settings.services}

    def args(self, service: str) -> GuardArgs:
        return self._args[service]

    async def before_send(self, service: ServiceSettings, phone: PhoneNumber) -> None:
        """Count a start; raises VerifyError(fraud_suspected) when a range of the number
        is blocked or this start blocks one."""
        call = self.start_call(service, phone)
        if call is None:
            return
        with store_call(self.counters.store.deadline):
            reply = await self.counters.store.scripts.run(call.name, call.keys, call.args)
        self.judge(service, phone, reply)

    def start_call(self, service: ServiceSettings, phone: PhoneNumber) -> Call | None:
        """`before_send`'s script call, to run on its own or ahead of the start
        (`Scripts.chain`); `judge` reads its reply. None when the guard is off."""
        if not service.fraud_guard.enabled:
            return None
        guard = service.fraud_guard
        ranges = ranges_of_phone(phone)
        return self.counters.start_call(
            service.name,
            [r.prefix for r in ranges],
            [r.level for r in ranges],
            [self._z[service.name] * LEVEL_CONFIDENCE.get(r.level, 1.0) for r in ranges],
            prefixes_of(phone.e164),
            self._args[service.name],
            allowed=any(phone.e164.startswith(p) for p in guard.allowed_prefixes),
            number_id=keys.number_digest(service.name, phone.e164),
        )

    def judge(self, service: ServiceSettings, phone: PhoneNumber, reply: Sequence[Any]) -> None:
        """What the start call's reply means: a block tripped is logged and counted;
        raises VerifyError(fraud_suspected) when the start is refused."""
        found = verdict(reply)
        country = country_of(phone)
        if found.state in ("tripped", "noted"):
            self._tripped(service, country, found)
        if found.state in ("ok", "noted"):
            return
        self._observer.blocked(service.name, "fraud_suspected", country)
        raise VerifyError(
            "fraud_suspected",
            # The range stays out of the answer: the caller's users need not learn how
            # narrowly the guard works; operators see it on /v1/fraud/blocks.
            "verifications to this destination are paused after unusual traffic; "
            f"try again in {found.retry_after} s",
            retry_after=found.retry_after,
            extra={"country": country},
        )

    async def approved(self, service: ServiceSettings, e164: str) -> None:
        """Count an approval; never fails the check that was just approved."""
        if not service.fraud_guard.enabled:
            return
        prefixes = [r.prefix for r in ranges_of(e164)]
        try:
            await self.counters.approved(service.name, prefixes, self._args[service.name])
        except VerifyError:
            self.approval_not_counted(service)

    def approve_call(
        self, service: ServiceSettings, e164: str, phone: PhoneNumber | None = None
    ) -> Call | None:
        """`approved`'s script call, to run guarded right after the approval (one round
        trip: `Store.finish`); None when the guard is off. `approval_counted` reads its
        reply. `phone`: the number `e164` as `parse_phone` read it, when the caller has it
        (its ranges without a second parse)."""
        if not service.fraud_guard.enabled:
            return None
        ranges = ranges_of(e164) if phone is None else ranges_of_phone(phone)
        prefixes = [r.prefix for r in ranges]
        return self.counters.approve_call(service.name, prefixes, self._args[service.name])

    def approval_counted(self, service: ServiceSettings, reply: Any) -> None:
        """What `approve_call`'s reply means: a failure is logged, as `approved` does."""
        if failed(reply):
            self.approval_not_counted(service)

    def approval_not_counted(self, service: ServiceSettings) -> None:
        log.warning("fraud guard: could not count an approval for service %r", service.name)

    def _tripped(self, service: ServiceSettings, country: str, verdict: StartVerdict) -> None:
        self._observer.fraud_guard_tripped(service.name, country, verdict.level)
        log.warning(
            "fraud guard: service %r blocks %s (%s, %s) for %d s: %.1f recent starts, "
            "%.1f approved, baseline conversion %.0f%%, block %d in a row",
            service.name,
            verdict.prefix,
            verdict.level,
            country,
            verdict.retry_after,
            verdict.starts,
            verdict.approvals,
            verdict.baseline * 100,
            verdict.strikes,
            extra={
                "event": "fraud_block",
                "service": service.name,
                "level": verdict.level,
                "country": country,
            },
        )
