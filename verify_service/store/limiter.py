"""Rate limits on the `limits` library, kept in the store's own Redis: the real one, or the
embedded fakeredis. Not `limits`' in-process memory storage for the embedded case: all
state then lives in one place, so whatever empties the store (the pytest plugin does,
before each test) also empties the counters, and nothing outlives it.

Redis Cluster: every `limits` script touches one key, and the first identifier of each
key is a `{hash tag}` of its own, so one limiter key lives in one slot and a layer's keys
spread over the cluster. The sliding-window-counter strategy uses two keys per limit;
they share the tag, hence the slot.

Clock: `limits` stamps entries with the app server's clock, not Redis `TIME`. That is fine
for rate limits (NTP keeps servers within milliseconds, and a window off by that much
changes nothing); expiry of verifications, where it matters, stays on Redis's clock."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import limits
from limits.aio import storage as limits_storage
from limits.aio import strategies
from limits.errors import StorageError
from redis.asyncio.cluster import RedisCluster

from verify_service.store.keys import RATE_LIMIT_PREFIX
from verify_service.store.verifications import Store, store_call

_STRATEGIES: dict[str, type[strategies.RateLimiter]] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}


def limiter_storage(store: Store) -> limits_storage.Storage:
    """Share the store's connection pool: no second set of connections, same server.
    A Cluster client has no single pool: `limits` then gets its own cluster client, built
    from the same nodes and credentials."""
    client = store.client
    if isinstance(client, RedisCluster):
        kwargs = client.connection_kwargs
        nodes = ",".join(f"{n.host}:{n.port}" for n in client.nodes_manager.startup_nodes.values())
        options: dict[str, float | str | bool] = {"decode_responses": True}
        for name in ("username", "password", "ssl", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
            if kwargs.get(name) is not None:
                options[name] = kwargs[name]
        return limits_storage.RedisClusterStorage(
            f"async+redis+cluster://{nodes}",
            implementation="redispy",
            key_prefix=RATE_LIMIT_PREFIX,
            wrap_exceptions=True,
            **options,
        )
    # The URI only picks the redis-py bridge; the pool decides where it connects.
    return limits_storage.RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=RATE_LIMIT_PREFIX,
        wrap_exceptions=True,
        # `limits` types its options narrowly; redis-py's bridge accepts a pool here.
        connection_pool=client.connection_pool,  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str
    retry_after: int


class RateLimiter:
    def __init__(self, storage: limits_storage.Storage, deadline: float) -> None:
        self.storage = storage
        self.deadline = deadline  # for all windows of one hit together
        self._strategies = {name: cls(storage) for name, cls in _STRATEGIES.items()}

    async def hit(
        self, strategy: str, items: Sequence[limits.RateLimitItem], *identifiers: str
    ) -> Refusal | None:
        """Count one request against each window in turn; the first full window refuses
        it (the later ones are then left untouched) and says when it frees up."""
        limiter = self._strategies[strategy]
        with store_call(self.deadline, StorageError):
            for item in items:
                if not await limiter.hit(item, *identifiers):
                    stats = await limiter.get_window_stats(item, *identifiers)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return Refusal(str(item), wait)
        return None
