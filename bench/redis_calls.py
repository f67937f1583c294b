"""Python CPU per Redis command of the store's client, auto-pipelined (`?pipelining=on`,
the default) against the pooled client (`?pipelining=off`, the client before wave 7),
measured in the same run, at several concurrencies.

`--concurrency` tasks (default 1, 8, 64) each send `--commands` EVALSHA one after another
(a small script with a key and arguments, a table reply: the shape of the store's calls),
on a throwaway redis-server. Per command: this process's CPU (user + system,
`time.process_time`), Redis's CPU (`INFO cpu`) and Redis reads (`INFO stats`
total_reads_processed: one per batch that arrived at once, Redis's wake-ups); the two
clients take turns, `--rounds` times, so that both see the same load of the machine.
Medians over the rounds, and pipelined / pooled ratios.

    python bench/redis_calls.py [--commands 20000] [--rounds 5] [--concurrency 1,8,64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from tests.support.redis_server import start_redis  # noqa: E402
from verify_service.store.connect import connect  # noqa: E402

SCRIPT = "redis.call('HSET', KEYS[1], 'n', ARGV[1]) return {KEYS[1], ARGV[2], 1}"
MODES = {"pooled": "off", "pipelined": "on"}


async def _round(url: str, sha: str, concurrency: int, commands: int) -> float:
    """Seconds of this process's CPU for `commands` EVALSHA over `concurrency` tasks."""
    client = connect(url)
    per_task = commands // concurrency

    async def task(i: int) -> None:
        key = f"bench:{{t{i}}}:k"
        for n in range(per_task):
            await client.evalsha(sha, 1, key, n, "some-argument")

    try:
        await asyncio.gather(*(task(i) for i in range(concurrency)))  # connect, warm up
        start = time.process_time()
        await asyncio.gather(*(task(i) for i in range(concurrency)))
        return time.process_time() - start
    finally:
        await client.aclose()


def _counters(r: redis.Redis) -> tuple[float, int]:
    cpu: Any = r.info("cpu")
    stats: Any = r.info("stats")
    return (
        float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        int(stats["total_reads_processed"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", default="1,8,64")
    args = parser.parse_args()
    server = start_redis()
    try:
        r = redis.Redis(port=server.port)
        sha = str(r.script_load(SCRIPT))
        levels = [int(c) for c in args.concurrency.split(",")]
        print(f"{args.commands} EVALSHA per round, {args.rounds} rounds, medians (min..max)")
        print(
            "| concurrency | client | Python CPU/command | Redis CPU/command | "
            "Redis reads/command | CPU ratio (pipelined / pooled) |"
        )
        print("|---|---|---|---|---|---|")
        for c in levels:
            figures: dict[str, dict[str, list[float]]] = {
                m: {"py": [], "redis": [], "reads": []} for m in MODES
            }
            for _ in range(args.rounds):
                for mode, value in MODES.items():
                    url = f"{server.url}?pipelining={value}"
                    redis_before, reads_before = _counters(r)
                    py = asyncio.run(_round(url, sha, c, args.commands))
                    redis_after, reads_after = _counters(r)
                    n = (args.commands // c) * c * 2  # two passes: warm-up and measured
                    figures[mode]["py"].append(py / (n / 2) * 1e6)
                    figures[mode]["redis"].append((redis_after - redis_before) / n * 1e6)
                    figures[mode]["reads"].append((reads_after - reads_before) / n)
            pooled = statistics.median(figures["pooled"]["py"])
            for mode in MODES:
                f = figures[mode]
                py_med = statistics.median(f["py"])
                ratio = "" if mode == "pooled" else f"{py_med / pooled:.2f}"
                print(
                    f"| {c} | {mode} | {py_med:.1f} µs ({min(f['py']):.1f}..{max(f['py']):.1f}) "
                    f"| {statistics.median(f['redis']):.1f} µs "
                    f"| {statistics.median(f['reads']):.3f} | {ratio} |"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
