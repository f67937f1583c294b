"""Rate limits, counted in the store's own Redis (the real one, or the embedded fakeredis)
by one Lua script (`scripts/ratelimit.lua`): every window of every layer of a request in
one EVALSHA, all or nothing, so a refused request uses up no budget anywhere and parallel
requests cannot pass a full window (the script runs atomically).

Why not `limits`' own strategies (which this module used before; `limits` still parses
the "5/10minutes" notation): they run one script per window, and their moving window keeps
a Redis list as long as the limit, walked by LINDEX on every hit; a start with the
default layers cost four EVALSHA, and a `global_sends` of a million an hour kept a
million entries. Here a start is one EVALSHA and one hash per (layer, subject).

Strategies (`RateLimits.strategy`), per window:
- "auto" (default): the exact moving window for limits up to EXACT_UP_TO, the
  sliding-window counter above: exact where a limit is small (per number, per client),
  constant cost and memory where it is large (per country, the service's send budget);
- "moving-window": exact for every window (cost and memory grow with the limit);
- "sliding-window-counter": two counts per window, approximate;
- "fixed-window": one count per window, up to twice the limit across a boundary.

Redis Cluster: the layers' keys carry hash tags of their own (one slot each), so there the
script runs once per layer, in layer order; a layer that refuses leaves the later ones
untouched (the earlier ones have counted the request, as with one call per layer).

Clock: Redis `TIME` plus the store's test offset, like the verifications."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import limits

from verify_service.store import keys
from verify_service.store.scripts import Call
from verify_service.store.verifications import Store, store_call

# Largest limit that "auto" counts exactly: the field keeps one ~14-byte stamp per request
# in the window, so up to ~1.4 KB per subject at this limit (and only for subjects that
# use their budget up).
EXACT_UP_TO = 100

# ratelimit.lua's first reply word when it allowed (and counted) the request.
ALLOWED = ("0",)

_MODES = {"moving-window": "m", "sliding-window-counter": "s", "fixed-window": "f"}


def window_mode(strategy: str, item: limits.RateLimitItem) -> str:
    """The script's mode letter for one window under `strategy`."""
    if strategy == "auto":
        return "m" if item.amount <= EXACT_UP_TO else "s"
    return _MODES[strategy]


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of one request: its name (for the refusal), the subject's identifier
    (`keys.tagged(...)`) and its windows."""

    name: str
    identifier: str
    items: Sequence[limits.RateLimitItem]


@dataclass(frozen=True, slots=True)
class Refusal:
    layer: str
    limit: str  # the full window, in `limits`' words ("5 per 10 minute")
    retry_after: int  # seconds until that window admits one more request


def _args(strategy: str, layer: Layer) -> list[str | int]:
    """ratelimit.lua's arguments of one layer: how many windows, their fields (one HMGET
    reads them straight from the arguments), then each window's mode, limit and period."""
    fields: list[str | int] = []
    specs: list[str | int] = []
    for item in layer.items:
        mode = window_mode(strategy, item)
        period_ms = item.get_expiry() * 1000
        fields.append(f"{mode}{item.amount}/{period_ms}")
        specs += [mode, item.amount, period_ms]
    return [len(layer.items), *fields, *specs]


@dataclass(frozen=True, slots=True)
class Counting:
    """The calls that count one request against its layers (`RateLimiter.prepare`): one,
    or one per layer on a Cluster, each going on only when it allowed the request."""

    calls: list[Call]
    groups: list[list[Layer]]

    def refusal(self, replies: Sequence[Any]) -> Refusal | None:
        """The refusal the replies of `calls` (those that ran, in order) say, or None."""
        for layers, reply in zip(self.groups, replies, strict=False):
            if int(reply[0]) != 0:
                layer = layers[int(reply[1]) - 1]
                item = layer.items[int(reply[2]) - 1]
                return Refusal(layer.name, str(item), max(1, math.ceil(int(reply[3]) / 1000)))
        return None


class RateLimiter:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def hit(self, strategy: str, layers: Sequence[Layer]) -> Refusal | None:
        """Count one request against every window of `layers` (those without windows are
        skipped); None when all of them allow it, else the refusal of the first layer with
        a full window, saying when that layer frees up (its full window that frees up
        last). Raises VerifyError(store_unavailable) when Redis does not answer."""
        counting = self.prepare(strategy, layers)
        if not counting.calls:
            return None
        with store_call(self.store.deadline):
            replies = await self.store.scripts.chain(counting.calls, together=False)
        return counting.refusal(replies)

    def prepare(self, strategy: str, layers: Sequence[Layer]) -> Counting:
        """`hit`'s calls, to run on their own or ahead of others (`Scripts.chain`)."""
        layers = [layer for layer in layers if layer.items]
        if not layers:
            return Counting([], [])
        # on a Cluster each layer's key is in a slot of its own: one call per layer
        groups = [[layer] for layer in layers] if self.store.one_slot_per_call else [layers]
        return Counting([self._call(strategy, group) for group in groups], groups)

    def _call(self, strategy: str, layers: Sequence[Layer]) -> Call:
        args: list[str | int] = [self.store.clock_offset_ms]
        for layer in layers:
            args += _args(strategy, layer)
        names = [keys.rate_key(layer.identifier) for layer in layers]
        return Call("ratelimit", names, args, goes_on=ALLOWED)
