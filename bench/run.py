"""`make bench`: the service under load next to its baselines, measured in one run.

1. raw argon2id: hashes per second with the configured parameters on all cores;
2. a bare Litestar app answering the same JSON shapes, served the same way;
3. the service (throwaway redis-server, fake SMS provider on loopback, N workers):
   start -> check flows with minimal hashing (compared with 2), check-only throughput with
   the default hashing (compared with 1), latency at 70 % of peak, Redis bytes per pending
   verification, and worker RSS before and after a soak.

Bounded: the whole run takes about three minutes on two cores. Prints a table and the
ratios, and writes them to bench/results.json."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer, free_port, start_redis  # noqa: E402
from verify_service.config import hash_api_key  # noqa: E402
from verify_service.domain.hashing import CodeHasher, HashParams  # noqa: E402

API_KEY = "bench-key-0123456789abcdef"
DEFAULT = HashParams()  # the shipped defaults: t=2, m=19456 KiB, p=1
MINIMAL = HashParams(time_cost=1, memory_cost_kib=1024, parallelism=1)


def _hash_for(seconds: float, params: HashParams) -> int:
    hasher = CodeHasher(b"bench-pepper-0123456789", params)
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hasher.hash("123456", f"scope{done}")
        done += 1
    return done


def argon2_rate(params: HashParams, seconds: float, processes: int) -> float:
    """Baseline (a): hashes per second on all cores (processes: argon2 per core)."""
    with multiprocessing.Pool(processes) as pool:
        counts = pool.starmap(_hash_for, [(seconds, params)] * processes)
    return sum(counts) / seconds


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    args: list[str], ready_url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        _wait_http(ready_url)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def uvicorn_cmd(app: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]


def load(mode: str, target: str, **options: Any) -> dict[str, Any]:
    args = [sys.executable, str(ROOT / "bench" / "load.py"), mode, "--target", target]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=600)
    return dict(json.loads(out.stdout))


def write_config(path: Path, redis_url: str, sms_port: int, params: HashParams) -> None:
    path.write_text(
        f"""
redis_url = "{redis_url}"
pepper = "bench-pepper-0123456789abcdef"
[hashing]
time_cost = {params.time_cost}
memory_cost_kib = {params.memory_cost_kib}
parallelism = {params.parallelism}
[providers.fake]
kind = "http"
url = "http://127.0.0.1:{sms_port}/sms"
body = {{ to = "{{to}}", text = "{{text}}" }}
message_id_field = "id"
[[services]]
name = "bench"
api_keys = ["{hash_api_key(API_KEY)}"]
providers = ["fake"]
template = "Your code is %TOKEN%"
resend_cooldown = 0
max_check_attempts = 100
# Abuse counters run (their cost is part of the measurement) but never refuse: one
# country at benchmark rates, and the create mode approves nothing.
[services.rate_limits]
per_country = ["10000000/hour"]
global_sends = ["10000000/hour"]
[services.fraud_guard]
min_conversion = 0.0
"""
    )


def worker_rss_kib(master: subprocess.Popen[bytes]) -> int:
    """Resident memory of the server's worker processes (children of the master)."""
    total = 0
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            status = (pid / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(master.pid) and "VmRSS" in fields:
            total += int(fields["VmRSS"].split()[0])
    return total


def serve_cmd(config: Path, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "verify_service",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--soak-flows", type=int, default=20_000)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    results: dict[str, Any] = {"machine": {"cores": cores, "python": sys.version.split()[0]}}
    tmp = Path(tempfile.mkdtemp(prefix="verify-bench-"))
    server: RedisServer = start_redis()
    r = redis.Redis.from_url(server.url)
    try:
        print(
            f"machine: {cores} cores; {args.workers} workers; concurrency {args.concurrency}; "
            f"{args.duration:.0f} s per phase",
            flush=True,
        )
        results["argon2_default_rate"] = argon2_rate(DEFAULT, args.duration / 3, cores)
        results["argon2_minimal_rate"] = argon2_rate(MINIMAL, args.duration / 3, cores)
        print(
            f"raw argon2id: {results['argon2_default_rate']:.1f}/s default, "
            f"{results['argon2_minimal_rate']:.0f}/s minimal",
            flush=True,
        )

        bare_port = free_port()
        with process(
            uvicorn_cmd("bench.bare_app:app", bare_port, args.workers),
            f"http://127.0.0.1:{bare_port}/",
            {"PYTHONPATH": str(ROOT)},
        ):
            results["bare"] = load(
                "bare",
                f"127.0.0.1:{bare_port}",
                concurrency=args.concurrency,
                duration=args.duration,
            )
        print(f"bare litestar: {results['bare']['ops']['start']['rps']:.0f} start/s", flush=True)

        sms_port = free_port()
        with process(
            uvicorn_cmd("bench.fake_sms:app", sms_port, 1),
            f"http://127.0.0.1:{sms_port}/",
            {"PYTHONPATH": str(ROOT)},
        ):
            sms = f"127.0.0.1:{sms_port}"
            minimal = tmp / "minimal.toml"
            default = tmp / "default.toml"
            write_config(minimal, server.url, sms_port, MINIMAL)
            write_config(default, server.url, sms_port, DEFAULT)
            port = free_port()
            target = f"127.0.0.1:{port}"
            with process(
                serve_cmd(minimal, port, args.workers), f"http://{target}/health/ready"
            ) as service:
                results["flows_minimal"] = load(
                    "flows",
                    target,
                    sms=sms,
                    key=API_KEY,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    wrong_ratio=0.2,
                )
                peak = results["flows_minimal"]["ops"]["check"]["rps"]
                print(f"service, minimal hashing: {peak:.0f} flows/s", flush=True)
                results["flows_70pct"] = load(
                    "flows",
                    target,
                    sms=sms,
                    key=API_KEY,
                    concurrency=args.concurrency * 2,
                    duration=args.duration,
                    rate=peak * 0.7,
                )
                # memory: bytes per pending verification, from Redis's own accounting
                r.flushdb()
                before = int(r.info("memory")["used_memory"])
                created = load(
                    "create", target, key=API_KEY, count=2000, concurrency=args.concurrency
                )
                after = int(r.info("memory")["used_memory"])
                results["redis_bytes_per_pending"] = (after - before) / max(1, len(created["ids"]))
                # soak: worker RSS before and after many more flows
                rss_before = worker_rss_kib(service)
                soak_seconds = args.soak_flows / max(peak, 1.0)
                results["soak"] = load(
                    "flows",
                    target,
                    sms=sms,
                    key=API_KEY,
                    concurrency=args.concurrency,
                    duration=soak_seconds,
                )
                results["soak"]["rss_before_kib"] = rss_before
                results["soak"]["rss_after_kib"] = worker_rss_kib(service)
            with process(serve_cmd(default, port, args.workers), f"http://{target}/health/ready"):
                ids_file = tmp / "ids.json"
                created = load("create", target, key=API_KEY, count=300, concurrency=8)
                ids_file.write_text(json.dumps(created["ids"]))
                # The argon2 baseline again, right before the phase it is compared with (the
                # service idle meanwhile): a shared machine's speed drifts over minutes.
                results["argon2_default_rate_adjacent"] = argon2_rate(
                    DEFAULT, args.duration / 3, cores
                )
                results["checks_default"] = load(
                    "checks",
                    target,
                    key=API_KEY,
                    ids=ids_file,
                    concurrency=args.concurrency,
                    duration=args.duration,
                )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2))


PHASES = ("bare", "flows_minimal", "flows_70pct", "checks_default", "soak")


def report(res: dict[str, Any]) -> None:
    def row(name: str, op: dict[str, Any]) -> str:
        return (
            f"| {name} | {op['rps']:.1f} | {op['p50_ms']:.1f} | {op['p95_ms']:.1f} "
            f"| {op['p99_ms']:.1f} |"
        )

    lines = [
        "",
        "| phase / operation | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for phase in PHASES:
        for op, values in sorted(res[phase]["ops"].items()):
            lines.append(row(f"{phase} {op}", values))
    print("\n".join(lines))
    bare = res["bare"]["ops"]
    flows = res["flows_minimal"]["ops"]
    checks = res["checks_default"]["ops"]["check_wrong"]["rps"]
    p70 = res["flows_70pct"]["ops"]
    ratios = {
        "check rps (default hashing) / raw argon2 rate (target >= 0.9)": checks
        / res["argon2_default_rate_adjacent"],
        "start rps (minimal hashing) / bare litestar start rps (target >= 0.5)": flows["start"][
            "rps"
        ]
        / bare["start"]["rps"],
        "check rps (minimal hashing) / bare litestar check rps (target >= 0.5)": flows["check"][
            "rps"
        ]
        / bare["check"]["rps"],
        "start p99 / p50 at 70 % of peak (target <= 3)": p70["start"]["p99_ms"]
        / p70["start"]["p50_ms"],
        "check p99 / p50 at 70 % of peak (target <= 3)": p70["check"]["p99_ms"]
        / p70["check"]["p50_ms"],
    }
    print("\nratios (same run, same cores):")
    for name, value in ratios.items():
        print(f"  {value:6.2f}  {name}")
    soak = res["soak"]
    print(
        f"\nraw argon2id (default): {res['argon2_default_rate']:.1f}/s at the start, "
        f"{res['argon2_default_rate_adjacent']:.1f}/s right before the checks phase"
    )
    print(f"Redis memory per pending verification: {res['redis_bytes_per_pending']:.0f} bytes")
    flows_done = soak["ops"]["check"]["count"]
    print(
        f"worker RSS over a {flows_done}-flow soak: {soak['rss_before_kib'] / 1024:.1f} MiB -> "
        f"{soak['rss_after_kib'] / 1024:.1f} MiB"
    )
    errors = {phase: res[phase]["errors"] for phase in PHASES if res[phase]["errors"]}
    print("errors:", errors or "none")
    res["ratios"] = ratios


if __name__ == "__main__":
    main()
