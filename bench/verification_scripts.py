"""Redis time per flow in the verification scripts, by Redis's own count.

Runs `--flows` flows (start -> 20 % one wrong check -> right check) through the use cases
on a throwaway redis-server with the capture provider, the rate limits and the pumping
guard off (their scripts are measured by bench/run.py), then reads `INFO commandstats`:
the microseconds Redis spent in EVALSHA (the scripts, their inner commands included) and
the calls of each command, per flow. Redis's per-command time does not count the client
or the kernel, so it moves much less with the machine's load than process CPU does.

    python bench/verification_scripts.py                         # this checkout
    PYTHONPATH=/path/to/old python bench/verification_scripts.py  # another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def _memory_bench() -> Any:
    """bench/verification_memory.py of this checkout (PYTHONPATH may name another's)."""
    spec = importlib.util.spec_from_file_location(
        "_memory", Path(__file__).parent / "verification_memory.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(url: str, flows: int, seed: int = 1) -> dict[str, Any]:
    from verify_service.api.app import build_components
    from verify_service.config import settings_from_mapping
    from verify_service.domain.model import StartParams
    from verify_service.store import Store, scripts

    config = _memory_bench().config()
    config["services"][0]["rate_limits"] = {
        "per_number": [], "per_ip": [], "per_country": [], "global_sends": [],
        "checks_per_ip": [],
    }  # fmt: skip
    client = aioredis.Redis.from_url(url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    components = build_components(settings_from_mapping(config, environ={}), store)
    service = components.settings.services[0]
    v = components.verifications
    capture = components.providers["capture"]
    rng = random.Random(seed)
    await client.config_resetstat()
    # every command into the slow log, to split EVALSHA's time by script
    await client.config_set("slowlog-log-slower-than", 0)
    await client.config_set("slowlog-max-len", 20 * flows)
    await client.slowlog_reset()
    cpu_before = await client.info("cpu")
    net_before = await client.info("stats")
    for n in range(flows):
        to = f"+4179{n:07d}"
        await v.start(service, StartParams(to=to))
        code = capture.messages[-1].text.rsplit(" ", 1)[-1]  # type: ignore[attr-defined]
        if rng.random() < 0.2:
            await v.check(service, to=to, code="".join("1" if c != "1" else "2" for c in code))
        await v.check(service, to=to, code=code)
    cpu_after = await client.info("cpu")
    net_after = await client.info("stats")
    stats = await client.info("commandstats")
    names = {hashlib.sha1(scripts.source(n).encode()).hexdigest(): n for n in scripts.NAMES}
    by_script: dict[str, list[int]] = {}
    for entry in await client.slowlog_get(20 * flows):
        raw = entry["command"]
        command = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).split()
        if command and command[0].upper() == "EVALSHA":
            name = names.get(command[1], command[1])
            by_script.setdefault(name, []).append(int(entry["duration"]))
    await store.aclose()
    per_flow = {
        name.removeprefix("cmdstat_"): (s["calls"] / flows, s["usec"] / flows)
        for name, s in stats.items()
    }
    return {
        "flows": flows,
        "evalsha_usec_per_flow": per_flow.get("evalsha", (0, 0))[1],
        # bytes Redis sent and received (replies and requests), per flow
        "reply_bytes_per_flow": (
            net_after["total_net_output_bytes"] - net_before["total_net_output_bytes"]
        )
        / flows,
        "request_bytes_per_flow": (
            net_after["total_net_input_bytes"] - net_before["total_net_input_bytes"]
        )
        / flows,
        # the server process's CPU (user + system): replies and socket work included
        "redis_cpu_usec_per_flow": sum(
            float(cpu_after[k]) - float(cpu_before[k]) for k in ("used_cpu_user", "used_cpu_sys")
        )
        * 1e6
        / flows,
        "script_usec_per_flow": {
            name: (len(d) / flows, sum(d) / flows) for name, d in sorted(by_script.items())
        },
        "calls_per_flow": {k: c for k, (c, _) in sorted(per_flow.items(), key=lambda x: -x[1][0])},
    }


def main() -> None:
    from tests.support.redis_server import start_redis

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=2000)
    args = parser.parse_args()
    server = start_redis()
    try:
        result = asyncio.run(run(server.url, args.flows))
    finally:
        server.stop()
    print(
        f"{result['flows']} flows: {result['evalsha_usec_per_flow']:.1f} µs in EVALSHA, "
        f"{result['redis_cpu_usec_per_flow']:.1f} µs Redis CPU per flow; "
        f"{result['reply_bytes_per_flow']:.0f} B of replies, "
        f"{result['request_bytes_per_flow']:.0f} B of requests per flow"
    )
    for name, (calls_, usec) in result["script_usec_per_flow"].items():
        print(f"  {name:<18} {calls_:.2f} calls, {usec:7.1f} µs per flow")
    calls = ", ".join(f"{k} {c:.2f}" for k, c in result["calls_per_flow"].items())
    print(f"calls per flow: {calls}")


if __name__ == "__main__":
    main()
