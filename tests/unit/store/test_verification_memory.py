"""Redis bytes per pending verification on a real redis-server with its default config
(issue 22: at most 1.5 KB with the counters, without an operator's redis.conf change and
whatever the configured limits). `bench/verification_memory.py` measures it as
docs/performance.md records it; this runs the same measurement on every test run."""

from __future__ import annotations

from bench.verification_memory import measure
from tests.support.redis_server import RedisServer

BOUND = 1500  # bytes of used_memory per pending verification, everything it adds included


async def test_bytes_per_pending_verification_on_redis(redis_server: RedisServer) -> None:
    result = await measure(redis_server.url, 1000)
    families = result["families"]
    print(
        f"\n{result['used_memory_per_pending']:.0f} B used_memory per pending; "
        + ", ".join(f"{f} {v['bytes_per_pending']:.0f}" for f, v in families.items())
    )
    assert result["hash_encoding"] == "listpack"
    # the verification hash: ~424 B as a listpack (1,640 as the hashtable it was)
    assert families["verification hash"]["bytes_per_key"] <= 512
    # the attempt log (issue 17) is in used_memory too: counted against the bound as well
    assert result["used_memory_per_pending"] <= BOUND
