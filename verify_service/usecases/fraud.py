"""Operator control of the pumping guard: list a service's blocks with the counts that
caused them, lift a block, allow-list a range (or take it off). Used by the operator API
(`/v1/fraud/*`) and the console. Every change is logged with its actor and told to the
observer (`verify_fraud_operator_actions_total`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from verify_service.abuse.policy import AbuseObserver
from verify_service.abuse.ranges import Range, RangeError, parse_range
from verify_service.config import ServiceSettings
from verify_service.domain.errors import VerifyError
from verify_service.store import Store
from verify_service.store.fraud import LIFTS_TTL, MAX_ALLOWED, BlockRecord, FraudStore

log = logging.getLogger("verify_service.abuse")


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Block:
    """A block of `range` (an E.164 prefix) at `level`, since `blocked_at` until `until`
    (`retry_after` s left). It was set on `starts` recent starts (decayed counts) of which
    `approvals` were approved, where `baseline_conversion` was expected; `strikes` = its
    blocks in a row (each doubles the cool-down); `refused` = starts refused since."""

    range: str
    level: str
    country: str
    blocked_at: datetime
    until: datetime
    retry_after: int
    starts: float
    approvals: float
    baseline_conversion: float
    strikes: int
    refused: int

    @property
    def conversion(self) -> float:
        return self.approvals / self.starts if self.starts else 0.0


@dataclass(frozen=True, slots=True)
class Allowed:
    """An allow-listed range: never blocked by the guard (its traffic still counts).
    `actor` is the operator, or "config" for `fraud_guard.allowed_prefixes`."""

    range: str
    country: str
    actor: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Trip:
    """A recent trip of the guard that is no longer in force: its `block` as it was set,
    `ended` on its own or `lifted` by `lifted_by` at `lifted_at`."""

    block: Block
    state: str  # ended | lifted
    lifted_by: str | None = None
    lifted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FraudOverview:
    """The blocks in force, the allow-list, and `recent`: the trips of the last day that
    are no longer in force, newest first."""

    blocks: list[Block]
    allowed: list[Allowed]
    recent: list[Trip] = field(default_factory=list)


def _block(record: BlockRecord, now_ms: int) -> Block:
    return Block(
        range=record.prefix,
        level=record.level,
        country=_range(record.prefix).country,
        blocked_at=_time(record.at_ms),
        until=_time(record.until_ms),
        retry_after=max(0, -(-(record.until_ms - now_ms) // 1000)),
        starts=round(record.starts, 1),
        approvals=round(record.approvals, 1),
        baseline_conversion=record.baseline,
        strikes=record.strikes,
        refused=record.refused,
    )


def _range(text: str) -> Range:
    try:
        return parse_range(text)
    except RangeError as exc:
        raise VerifyError("invalid_request", str(exc)) from None


class FraudControl:
    """The use cases of the operator's Fraud page. `service` is the service's settings;
    `range` an E.164 prefix such as "+491521" (the "+" may be left out); `actor` who acts
    (an operator's name). Raises VerifyError: invalid_request (a range that is no E.164
    prefix of a country code; a full allow-list), not_found (no block in force to lift,
    no such allow-list entry), store_unavailable."""

    def __init__(self, store: Store, observer: AbuseObserver) -> None:
        self._counters = FraudStore(store)
        self._observer = observer

    async def list_blocks(self, service: ServiceSettings) -> FraudOverview:
        """The blocks in force, newest first, the allow-list (config entries first) and the
        recent trips (ended or lifted within the last day, newest first)."""
        state = await self._counters.state(service.name)
        configured = [
            Allowed(p, _range(p).country, "config", None)
            for p in service.fraud_guard.allowed_prefixes
        ]
        operated = [
            Allowed(a.prefix, _range(a.prefix).country, a.actor, _time(a.at_ms))
            for a in state.allowed
        ]
        now = state.now_ms
        recent = [Trip(_block(r, now), "ended") for r in state.ended] + [
            Trip(_block(lift.block, lift.at_ms), "lifted", lift.actor, _time(lift.at_ms))
            for lift in state.lifted
            if lift.at_ms > now - LIFTS_TTL * 1000
        ]
        return FraudOverview(
            [_block(record, now) for record in state.blocks],
            configured + operated,
            sorted(recent, key=lambda trip: trip.block.blocked_at, reverse=True),
        )

    async def lift(self, service: ServiceSettings, range: str, actor: str) -> Block:
        """Lift the block of `range`; the block as it was. Its recent counts start again
        from zero, so the same traffic does not block it again at once."""
        target = _range(range)
        lifted = await self._counters.lift(service.name, target.prefix, actor)
        if lifted is None:
            raise VerifyError("not_found", f"no block of {target.prefix} is in force")
        record, now_ms = lifted
        block = _block(record, now_ms)
        self._observer.fraud_operator_action(service.name, "lift", target.country)
        log.warning(
            "fraud guard: %s lifted the block of %s (%s) for service %r after %d refused starts",
            actor,
            target.prefix,
            record.level,
            service.name,
            record.refused,
            extra={"event": "fraud_lift", "actor": actor, "country": target.country},
        )
        return block

    async def allow(self, service: ServiceSettings, range: str, actor: str) -> Allowed:
        """Allow-list `range`: the guard never blocks it (nor refuses starts to it under a
        broader block); what it sends still counts towards the broader ranges."""
        target = _range(range)
        at = await self._counters.allow(service.name, target.prefix, actor)
        if at is None:
            raise VerifyError(
                "invalid_request",
                f"the allow-list of this service is full ({MAX_ALLOWED} ranges); remove one first",
            )
        self._observer.fraud_operator_action(service.name, "allow", target.country)
        log.warning(
            "fraud guard: %s allow-listed %s for service %r",
            actor,
            target.prefix,
            service.name,
            extra={"event": "fraud_allow", "actor": actor, "country": target.country},
        )
        return Allowed(target.prefix, target.country, actor, _time(at))

    async def unallow(self, service: ServiceSettings, range: str, actor: str) -> None:
        """Take `range` off the operators' allow-list (config entries stay)."""
        target = _range(range)
        if not await self._counters.unallow(service.name, target.prefix):
            raise VerifyError("not_found", f"{target.prefix} is not on the allow-list")
        self._observer.fraud_operator_action(service.name, "unallow", target.country)
        log.warning(
            "fraud guard: %s took %s off the allow-list of service %r",
            actor,
            target.prefix,
            service.name,
            extra={"event": "fraud_unallow", "actor": actor, "country": target.country},
        )
