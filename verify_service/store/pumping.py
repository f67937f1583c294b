"""Counters of the SMS pumping guard: started and approved verifications per (service,
country) over a sliding window, and the block that follows a low conversion. Each call is
one EVALSHA on one hash-tagged key with a TTL; time is Redis `TIME` (plus the store's
test offset), like the verifications."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from verify_service.store.verifications import Store, store_call

# The window is cut into this many buckets: it slides by 1/12 of its length.
BUCKETS = 12


def pump_key(service: str, country: str) -> str:
    digest = hashlib.sha256(f"{service}\x00{country}".encode()).hexdigest()[:16]
    return f"vs:pump:{{{digest}}}"


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    state: str  # ok | blocked | tripped (this start tripped the block)
    retry_after: int | None = None
    starts: int = 0
    approvals: int = 0


def _script(name: str) -> str:
    return resources.files("verify_service.store").joinpath(f"scripts/{name}.lua").read_text()


class PumpingCounters:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._start = store.client.register_script(_script("pump_start"))
        self._approve = store.client.register_script(_script("pump_approve"))

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
            reply = await self._start(
                keys=[pump_key(service, country)],
                args=[
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
            await self._approve(
                keys=[pump_key(service, country)],
                args=[self.store.clock_offset_ms, window * 1000, BUCKETS, cooldown * 1000],
            )
