"""CPU per refused start (issue 15.2), next to the CPU of one argon2 hash measured in the
same run.

A start that the resend cooldown refuses, to an ordinary number and to a test number,
looped by 16 concurrent clients against one `serve` worker (default hashing, a throwaway
redis-server, the `capture` provider: nothing leaves the machine). The server process's
CPU time (user + system, from /proc) over the loop, divided by the refusals it answered,
is the CPU per refused start; the ratio to one argon2 hash says whether a refusal still
pays for a hash (about 1 or more) or not (a small fraction).

`--code DIR` runs the server from another checkout (e.g. the main branch before this
change) to measure "before" the same way:

    python bench/refused_starts.py                      # this checkout
    python bench/refused_starts.py --code /work/main    # before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import free_port, start_redis  # noqa: E402
from verify_service.domain.hashing import CodeHasher, HashParams  # noqa: E402

KEY = "bench-refused-key-0123456789"
NUMBER, TEST_NUMBER = "+41791234567", "+41790000000"
CLIENTS = 16
TICKS = os.sysconf("SC_CLK_TCK")


def hash_cpu_ms(params: HashParams, runs: int = 20) -> float:
    """Baseline: CPU milliseconds of one argon2 hash with the service's parameters."""
    hasher = CodeHasher(b"bench-pepper-0123456789", params)
    started = time.thread_time()
    for i in range(runs):
        hasher.hash("123456", f"scope{i}")
    return (time.thread_time() - started) * 1000 / runs


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def write_config(path: Path, redis_url: str) -> None:
    path.write_text(
        f"""
redis_url = "{redis_url}"
pepper = "env:BENCH_PEPPER"
test_mode = true
[providers.capture]
kind = "capture"
[[services]]
name = "bench"
api_keys = ["env:BENCH_KEY"]
providers = ["capture"]
resend_cooldown = 600
test_numbers = {{ "{TEST_NUMBER}" = "123456" }}
fraud_guard = {{ enabled = false }}
rate_limits = {{ per_number = [], per_ip = [], per_country = [], global_sends = [] }}
"""
    )


async def loop_refusals(base: str, to: str, seconds: float) -> dict[str, int]:
    """CLIENTS clients start `to` in a loop for `seconds`; answers by status code."""
    counts: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        first = await client.post("/v1/verifications", json={"to": to})
        assert first.status_code == 201, first.text
        end = time.monotonic() + seconds

        async def one() -> None:
            while time.monotonic() < end:
                r = await client.post("/v1/verifications", json={"to": to})
                code = r.json().get("code", str(r.status_code))
                counts[code] = counts.get(code, 0) + 1

        await asyncio.gather(*(one() for _ in range(CLIENTS)))
    return counts


def measure(code: Path, seconds: float) -> dict[str, Any]:
    redis = start_redis()
    directory = Path(tempfile.mkdtemp(prefix="bench-refused-"))
    config = directory / "verify.toml"
    write_config(config, redis.url)
    port = free_port()
    env = {
        **os.environ,
        "BENCH_KEY": KEY,
        "BENCH_PEPPER": "bench-pepper-0123456789abcdef",
        "PYTHONPATH": str(code),
        "VERIFY_LOG_LEVEL": "ERROR",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "verify_service",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not come up")
            time.sleep(0.1)
        for name, to in (("ordinary number", NUMBER), ("test number", TEST_NUMBER)):
            cpu_before = process_cpu_seconds(server.pid)
            counts = asyncio.run(loop_refusals(base, to, seconds))
            cpu = process_cpu_seconds(server.pid) - cpu_before
            refused = counts.get("resend_too_soon", 0)
            results[name] = {
                "answers": counts,
                "refused_per_s": round(refused / seconds, 1),
                "server_cpu_percent": round(100 * cpu / seconds),
                "cpu_ms_per_refused_start": round(1000 * cpu / max(1, refused), 3),
            }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
        redis.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run the server from")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    args = parser.parse_args()
    baseline = hash_cpu_ms(HashParams())
    results = measure(args.code.resolve(), args.seconds)
    print(f"one argon2 hash (t=2, m=19456 KiB): {baseline:.1f} ms CPU  [code: {args.code}]")
    header = ("refused start to", "refusals/s", "server CPU", "ms CPU each", "/ hash")
    print(f"{header[0]:<18}{header[1]:>12}{header[2]:>12}{header[3]:>13}{header[4]:>9}")
    for name, row in results.items():
        row["ratio_to_one_hash"] = round(row["cpu_ms_per_refused_start"] / baseline, 3)
        print(
            f"{name:<18}{row['refused_per_s']:>12}{row['server_cpu_percent']:>11}%"
            f"{row['cpu_ms_per_refused_start']:>13}{row['ratio_to_one_hash']:>9}"
        )
    print(json.dumps({"hash_cpu_ms": round(baseline, 2), "scenarios": results}))


if __name__ == "__main__":
    main()
