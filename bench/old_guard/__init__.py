"""The first pumping guard (one country, a fixed conversion threshold over a sliding
window), kept here only so that `bench/fraud_sim.py` can run it beside the current guard
on the same traffic. Its two Lua scripts are the ones it shipped with, verbatim; the
prelude's clock is inlined. The defaults are the README's of that version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BUCKETS = 12
NOW_MS = """
local function now_ms(clock_offset_ms)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(clock_offset_ms)
end
"""


@dataclass(frozen=True)
class OldSettings:
    window: int = 3600
    min_starts: int = 50
    min_conversion: float = 0.2
    cooldown: int = 3600


class OldGuard:
    """start() -> "ok" | "blocked" | "tripped", approved(): as the old store/pumping.py,
    on any redis-py asyncio client (fakeredis or a redis-server)."""

    def __init__(self, client: Any, settings: OldSettings = OldSettings()) -> None:
        self.client = client
        self.settings = settings
        self._start = client.register_script(NOW_MS + (HERE / "pump_start.lua").read_text())
        self._approve = client.register_script(NOW_MS + (HERE / "pump_approve.lua").read_text())

    async def start(self, service: str, country: str, offset_ms: int) -> str:
        s = self.settings
        reply = await self._start(
            keys=[f"old:pump:{{{service}:{country}}}"],
            args=[
                offset_ms,
                s.window * 1000,
                BUCKETS,
                s.min_starts,
                repr(s.min_conversion),
                s.cooldown * 1000,
            ],
        )
        return str(reply[0])

    async def approved(self, service: str, country: str, offset_ms: int) -> None:
        s = self.settings
        await self._approve(
            keys=[f"old:pump:{{{service}:{country}}}"],
            args=[offset_ms, s.window * 1000, BUCKETS, s.cooldown * 1000],
        )
