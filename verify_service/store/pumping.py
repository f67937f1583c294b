"""Counters of the SMS pumping guard: started and approved verifications per (service,
country) over a sliding window, and the block that follows a low conversion. Each call is
one EVALSHA on one hash-tagged key with a TTL; time is Redis `TIME` (plus the store's
test offset), like the verifications."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.store import keys
from verify_service.store.verifications import Store, store_call

# The window is cut into this many buckets: it slides by 1/12 of its length.
BUCKETS = 12


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    state: str  # ok | blocked | tripped (this start tripped the block)
    retry_after: int | None = None
    starts: int = 0
    approvals: int = 0


class PumpingCounters:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(
        self,
        service: str,
        country: str,
        *,
        window: int,
        min_starts: int,
        min_conversion: float,
        cooldown: int,
    ) -> GuardVerdict:
        with store_call(self.store.deadline):
            reply = await self.store.scripts.run(
                "pump_start",
                [keys.pump_key(service, country)],
                [
                    self.store.clock_offset_ms,
                    window * 1000,
                    BUCKETS,
                    min_starts,
                    repr(min_conversion),
                    cooldown * 1000,
                ],
            )
        state = str(reply[0])
        if state == "ok":
            return GuardVerdict(state)
        if state == "blocked":
            return GuardVerdict(state, int(reply[1]))
        return GuardVerdict(state, int(reply[1]), int(reply[2]), int(reply[3]))

    async def approved(self, service: str, country: str, *, window: int, cooldown: int) -> None:
        with store_call(self.store.deadline):
            await self.store.scripts.run(
                "pump_approve",
                [keys.pump_key(service, country)],
                [self.store.clock_offset_ms, window * 1000, BUCKETS, cooldown * 1000],
            )
