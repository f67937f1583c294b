"""Redis bytes per pending verification, by key family, on a real redis-server.

Starts `--count` verifications (one per number, no check) through the use cases, as the
start route runs them: the shipped per-number rate limits on, the capture provider (its
message id is the send's reference, `ver_<32 hex>.1`, as long as most providers' ids),
argon2 at the test parameters (the hash's length does not depend on them). Then reads
`INFO memory` `used_memory` (dict and expiry entries and allocator rounding included) and
`MEMORY USAGE` of every key, summed by family. The server runs with its default config
unless `--listpack-value` says otherwise (`hash-max-listpack-value`).

    python bench/verification_memory.py                         # this checkout
    PYTHONPATH=/path/to/old python bench/verification_memory.py  # another checkout's code

`tests/unit/store/test_verification_memory.py` runs `measure` on every test run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the test support's redis-server; the service from PYTHONPATH
    sys.path.append(str(ROOT))

FAMILIES = (
    ("verification hash", re.compile(r"^vs:\{[0-9a-f]+\}:v:")),
    ("latest-id pointer", re.compile(r"^vs:\{[0-9a-f]+\}:last$")),
    ("message-id index", re.compile(r"^vs:msg:")),
    ("rate-limit counters", re.compile(r"^vs:rl:")),
    ("attempt log", re.compile(r"^vs:att:")),
)

PEPPER = "bench-pepper-0123456789abcdef"


def config() -> dict[str, Any]:
    from verify_service.config import hash_api_key

    return {
        "pepper": PEPPER,
        "test_mode": True,
        "hashing": {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1},
        "providers": {"capture": {"kind": "capture"}},
        "services": [
            {
                "name": "login",
                "api_keys": [hash_api_key("bench-key-0123456789abcdef")],
                "providers": ["capture"],
                "template": "Your code is %TOKEN%",
                "resend_cooldown": 0,
                # per_number as shipped; the shared layers (one key per country, per
                # service) cost ~0 per verification and must not refuse here
                "rate_limits": {
                    "per_country": ["10000000/hour"],
                    "global_sends": ["10000000/hour"],
                },
                "fraud_guard": {"enabled": False},
            }
        ],
    }


async def measure(url: str, count: int) -> dict[str, Any]:
    """Start `count` verifications on the (empty) Redis at `url`; bytes per pending one:
    `used_memory` growth and `MEMORY USAGE` by family (keys, bytes per key, per pending),
    and the verification hash's encoding."""
    from verify_service.api.app import build_components
    from verify_service.config import settings_from_mapping
    from verify_service.domain.model import StartParams
    from verify_service.store import Store

    client = aioredis.Redis.from_url(url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    components = build_components(settings_from_mapping(config(), environ={}), store)
    service = components.settings.services[0]
    verifications = components.verifications
    # one start first: connections, script cache and the service-wide keys exist before
    await verifications.start(service, StartParams(to="+41780000000"))
    before = int((await client.info("memory"))["used_memory"])
    for n in range(count):
        await verifications.start(service, StartParams(to=f"+4179{n:07d}"))
    after = int((await client.info("memory"))["used_memory"])
    sizes: dict[str, list[int]] = {}
    encoding = None
    async for name in client.scan_iter(count=1000):
        family = next((f for f, rx in FAMILIES if rx.search(name)), "other")
        sizes.setdefault(family, []).append(int(await client.memory_usage(name, samples=0) or 0))
        if family == "verification hash" and encoding is None:
            encoding = await client.object("encoding", name)
    await store.aclose()
    families = {
        family: {
            "keys": len(values),
            "bytes_per_key": sum(values) / len(values),
            "bytes_per_pending": sum(values) / count,
        }
        for family, values in sorted(sizes.items())
    }
    per_pending = {f: v["bytes_per_pending"] for f, v in families.items() if v["keys"] > count / 2}
    return {
        "pending": count,
        "used_memory_per_pending": (after - before) / count,
        "memory_usage_per_pending": sum(per_pending.values()),
        "families": families,
        "hash_encoding": encoding,
    }


def main() -> None:
    from tests.support.redis_server import start_redis

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--listpack-value", type=int, default=None)
    args = parser.parse_args()
    server = start_redis()
    try:
        if args.listpack_value is not None:
            import redis

            redis.Redis.from_url(server.url).config_set(
                "hash-max-listpack-value", args.listpack_value
            )
        result = asyncio.run(measure(server.url, args.count))
    finally:
        server.stop()
    print(f"{result['pending']} pending, verification hash: {result['hash_encoding']}")
    print(f"{'family':<22} {'keys':>6} {'B/key':>7} {'B/pending':>10}")
    for family, v in result["families"].items():
        per_key, per_pending = v["bytes_per_key"], v["bytes_per_pending"]
        print(f"{family:<22} {v['keys']:>6} {per_key:>7.0f} {per_pending:>10.0f}")
    usage = result["memory_usage_per_pending"]
    print(f"MEMORY USAGE per pending (families with a key each): {usage:.0f}")
    print(f"used_memory per pending: {result['used_memory_per_pending']:.0f}")


if __name__ == "__main__":
    main()
