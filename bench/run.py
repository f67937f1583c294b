"""`make bench`: what one verification flow costs, in steady state, next to baselines
measured in the same run.

For each worker count of `--workers` (default 4,8; 2 on a machine with fewer than 8
cores), the service (throwaway redis-server, fake SMS provider on loopback) runs flows
(start -> read the code from the fake -> 20 % one wrong check -> right check) with
minimal hashing: `--warmup` seconds of load, then `--rounds` windows of `--duration`
seconds back to back, the load never pausing. Per window it reports flows/s, worker CPU
per flow (the OS's count over the worker processes, psutil), Redis CPU per flow and busy
share (`INFO cpu`), Redis calls per flow by command (`INFO commandstats`, reset after the
warm-up; commands run inside scripts are counted too), Redis reads per flow (`INFO stats`
total_reads_processed: Redis's wake-ups for a client socket, one per batch of commands
that arrives at once), and each worker's share (balance).
Two windows give the spread: a figure is steady when they agree within 5 %.

Then, at the largest worker count: latency at 70 % of the peak (open loop), Redis memory
per pending verification by key family (`MEMORY USAGE`), checks at the shipped hashing
against raw argon2 on the same cores, and worker RSS over a soak. Bare Litestar at each
worker count is a reference ratio (an app that does nothing), not a target.

Cores: with 8 or more, Redis, the fake provider and the load generator get cores of their
own (`os.sched_setaffinity`) and the service and argon2 the rest; with fewer, everything
shares all cores and the report says so.

`--service-root DIR` runs the service of another checkout (e.g. main) under the same
driver, for a before/after on the same machine. Writes bench/results.json."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer, free_port, start_redis  # noqa: E402
from verify_service.config import hash_api_key  # noqa: E402
from verify_service.domain.hashing import CodeHasher, HashParams  # noqa: E402

API_KEY = "bench-key-0123456789abcdef"
# a config file holds no secrets (config/file_secrets.py): the pepper comes from the
# environment of whatever loads the bench config (`pepper = "env:BENCH_PEPPER"`)
BENCH_ENV = {"BENCH_PEPPER": "bench-pepper-0123456789abcdef"}
DEFAULT = HashParams()  # the shipped defaults: t=2, m=19456 KiB, p=1
MINIMAL = HashParams(time_cost=1, memory_cost_kib=1024, parallelism=1)
STEADY = 0.05  # two windows agree within this share


# --- cores ------------------------------------------------------------------------------


class Cores:
    """Which cores each part runs on; None = all (too few cores to separate them).
    `redis_apart` on fewer than 8 cores: Redis alone on core 0, everything else on the
    rest, so that Redis's CPU per flow is not inflated by sharing its core's caches with
    the workers (as on the issue's 16-core machine, where it had a core of its own)."""

    def __init__(self, total: int, redis_apart: bool = False) -> None:
        self.total = total
        self.separate = total >= 8
        self.redis_apart = not self.separate and redis_apart and total >= 2
        every = set(range(total))
        self.redis = {0} if self.separate or self.redis_apart else None
        self.fake = {1} if self.separate else None
        self.load = {2, 3} if self.separate else None
        if self.separate:
            self.service = every - {0, 1, 2, 3}
        elif self.redis_apart:
            # the fake provider and the load generator stay unpinned (None above) but
            # must keep off Redis's core too: they run on the service's cores
            self.fake = self.load = self.service = every - {0}
        else:
            self.service = every

    def describe(self) -> str:
        if self.redis_apart:
            return (
                f"{self.total} cores: Redis alone on core 0; the service, the fake provider "
                f"and the load generator share the other {self.total - 1}"
            )
        if not self.separate:
            return (
                f"{self.total} cores, shared by the service, Redis, the fake provider and the "
                "load generator (too few to pin them apart): every figure includes their CPU"
            )
        return (
            f"{self.total} cores: Redis on {sorted(self.redis or ())}, fake provider on "
            f"{sorted(self.fake or ())}, load generator on {sorted(self.load or ())}, "
            f"service and argon2 on {len(self.service)} cores"
        )


def pin(pid: int, cores: set[int] | None) -> None:
    """Every thread of `pid` (Redis has background threads) onto `cores`."""
    if cores is None:
        return
    for thread in psutil.Process(pid).threads():
        with suppress(OSError):
            os.sched_setaffinity(thread.id, cores)


# --- argon2 baseline --------------------------------------------------------------------


def _hash_for(seconds: float, params: HashParams, cores: list[int] | None) -> int:
    if cores:
        os.sched_setaffinity(0, set(cores))
    hasher = CodeHasher(b"bench-pepper-0123456789", params)
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hasher.hash("123456", f"scope{done}")
        done += 1
    return done


def argon2_rate(params: HashParams, seconds: float, cores: set[int]) -> float:
    """Baseline: argon2id hashes per second, one process per service core."""
    pinned = sorted(cores) if len(cores) < (os.cpu_count() or 1) else None
    with multiprocessing.Pool(len(cores)) as pool:
        counts = pool.starmap(_hash_for, [(seconds, params, pinned)] * len(cores))
    return sum(counts) / seconds


# --- processes --------------------------------------------------------------------------


def _wait_http(url: str, timeout: float = 60) -> None:
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
    args: list[str],
    ready_url: str,
    env: dict[str, str] | None = None,
    cores: set[int] | None = None,
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m` puts `cwd` first on the path: it decides which checkout runs."""

    def preexec() -> None:
        if cores is not None:
            os.sched_setaffinity(0, cores)  # inherited by the workers it starts

    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **BENCH_ENV, **(env or {})},
        start_new_session=True,
        cwd=cwd,
        preexec_fn=preexec,  # the driver has no threads
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
        str(workers),  # the shipped log level: a JSON line per request is part of the cost
    ]


@contextmanager
def fake_provider(tmp: Path, redis_url: str) -> Iterator[tuple[int, Path]]:
    """The fake SMS provider running, and a config at minimal hashing that sends to it:
    (its port, the config's path)."""
    sms_port = free_port()
    with process(
        uvicorn_cmd("bench.fake_sms:app", sms_port, 1),
        f"http://127.0.0.1:{sms_port}/",
        {"PYTHONPATH": str(ROOT)},
    ):
        config = tmp / "minimal.toml"
        write_config(config, redis_url, sms_port, MINIMAL, None)
        yield sms_port, config


def workers_of(master: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The processes that serve requests: the master's children, or the master itself
    when it serves alone (multiprocessing's resource tracker is no worker)."""
    children = [
        p
        for p in psutil.Process(master.pid).children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    return children or [psutil.Process(master.pid)]


def _config(redis_url: str, sms_port: int, params: HashParams, pepper: str, abuse: str) -> str:
    """The bench's config: a throwaway Redis, the fake provider, one service; `pepper`
    and `abuse` (the service's rate-limit and pumping-guard tables) as the version reads."""
    return f"""
redis_url = "{redis_url}"
pepper = "{pepper}"
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
{abuse}"""


def write_config(
    path: Path, redis_url: str, sms_port: int, params: HashParams, strategy: str | None
) -> None:
    strategy_line = f'strategy = "{strategy}"' if strategy else ""
    abuse = f"""# Abuse counters run (their cost is part of a start) but never refuse: per_number as
# shipped, one country at benchmark rates, and the pumping guard counting every range of
# the benchmark's numbers (+4179...) but allowed never to block them (a fresh Redis has no
# baseline yet, and the load's conversions lag its starts).
[services.rate_limits]
{strategy_line}
per_country = ["10000000/hour"]
global_sends = ["10000000/hour"]
[services.fraud_guard]
allowed_prefixes = ["+4179"]
"""
    path.write_text(_config(redis_url, sms_port, params, "env:BENCH_PEPPER", abuse))


# The service as issue 22 measured it (47024a2, before that issue's work) reads an older
# config: the pepper in the file, the first pumping guard (`min_conversion`; its create
# mode approved nothing), no environment secrets. `--issue-baseline` writes this one, so
# that `--service-root` on a checkout of that commit runs the issue's own baseline under
# today's driver, on the same machine (docs/performance.md, "Wave 6, all together, and
# against the issue's own baseline").
ISSUE_BASELINE = "47024a2"


def write_issue_baseline_config(
    path: Path, redis_url: str, sms_port: int, params: HashParams, strategy: str | None
) -> None:
    abuse = """[services.rate_limits]
per_country = ["10000000/hour"]
global_sends = ["10000000/hour"]
[services.fraud_guard]
min_conversion = 0.0
"""
    path.write_text(_config(redis_url, sms_port, params, BENCH_ENV["BENCH_PEPPER"], abuse))


# --- counters ---------------------------------------------------------------------------

_NOT_FLOW = {"info", "config|resetstat", "config|set", "config|get", "memory|usage", "scan"}


class Counters:
    """The OS's and Redis's counters, read at the load generator's marks."""

    def __init__(self, r: redis.Redis, workers: list[psutil.Process]) -> None:
        self.r = r
        self.workers = workers

    def read(self) -> dict[str, Any]:
        cpu = {}
        for w in self.workers:
            try:
                t = w.cpu_times()
                cpu[w.pid] = t.user + t.system
            except psutil.Error:
                cpu[w.pid] = 0.0
        info = self.r.info("cpu")
        stats = self.r.info("commandstats")
        # a read = one wake-up of Redis for a client's socket (one batch of commands)
        reads = int(self.r.info("stats")["total_reads_processed"])
        return {
            "at": time.perf_counter(),
            "workers": cpu,
            "redis_cpu": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "redis_reads": reads,
            "calls": {
                name.removeprefix("cmdstat_"): int(v["calls"])
                for name, v in stats.items()
                if name.removeprefix("cmdstat_") not in _NOT_FLOW
            },
        }


def window_figures(a: dict[str, Any], b: dict[str, Any], flows: int) -> dict[str, Any]:
    seconds = b["at"] - a["at"]
    per_worker = {pid: b["workers"][pid] - a["workers"].get(pid, 0.0) for pid in b["workers"]}
    worker_cpu = sum(per_worker.values())
    redis_cpu = b["redis_cpu"] - a["redis_cpu"]
    calls = {k: v - a["calls"].get(k, 0) for k, v in b["calls"].items()}
    n = max(flows, 1)
    shares = sorted(v / seconds for v in per_worker.values())
    return {
        "flows": flows,
        "flows_per_s": flows / seconds,
        "worker_cpu_ms_per_flow": worker_cpu / n * 1000,
        "redis_cpu_us_per_flow": redis_cpu / n * 1e6,
        "redis_busy": redis_cpu / seconds,
        "redis_reads_per_flow": (b["redis_reads"] - a["redis_reads"]) / n,
        "redis_calls_per_flow": {k: v / n for k, v in sorted(calls.items()) if v},
        "worker_busy": shares,  # cores busy per worker, lowest first
    }


def load_phase(
    mode: str,
    target: str,
    cores: Cores,
    counters: Counters | None,
    **options: Any,
) -> dict[str, Any]:
    """Run bench/load.py; at each of its marks read `counters` (resetting Redis's command
    stats at the end of the warm-up); the load generator's windows, each with the counters'
    figures for it."""
    args = [sys.executable, str(ROOT / "bench" / "load.py"), mode, "--target", target]
    if cores.load is not None:
        args += ["--affinity", ",".join(map(str, sorted(cores.load)))]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reads: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("mark "):
            if counters is not None:
                if line.strip() == "mark 0":
                    counters.r.config_resetstat()
                reads.append(counters.read())
        elif line.startswith("result "):
            result = json.loads(line[len("result ") :])
    if proc.wait() != 0:
        raise RuntimeError(f"load generator failed: {args}")
    if counters is not None and "windows" in result:
        for i, window in enumerate(result["windows"]):
            flows = window["ops"].get("check", {}).get("count", 0)
            window["counters"] = window_figures(reads[i], reads[i + 1], flows)
    return result


def spread(windows: list[dict[str, Any]], key: str) -> float:
    values = [w["counters"][key] for w in windows]
    mean = sum(values) / len(values)
    return (max(values) - min(values)) / mean if mean else 0.0


# --- memory -----------------------------------------------------------------------------

FAMILIES = (
    ("verification hash", re.compile(r"^vs:\{[0-9a-f]+\}:v:")),
    ("latest-id pointer", re.compile(r"^vs:\{[0-9a-f]+\}:last$")),
    ("message-id index", re.compile(r"^vs:msg:")),
    ("rate-limit counters", re.compile(r"^vs:rl:")),
    ("pumping guard", re.compile(r"^vs:pump:")),
)


def memory_by_family(r: redis.Redis, pending: int) -> dict[str, Any]:
    """MEMORY USAGE of every key, summed by family, per pending verification."""
    totals: dict[str, list[int]] = {}
    for key in r.scan_iter(count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        family = next((f for f, rx in FAMILIES if rx.search(name)), "other")
        size = int(r.memory_usage(name, samples=0) or 0)
        totals.setdefault(family, []).append(size)
    return {
        family: {
            "keys": len(sizes),
            "bytes_per_key": sum(sizes) / len(sizes),
            "bytes_per_pending": sum(sizes) / max(pending, 1),
        }
        for family, sizes in sorted(totals.items())
    }


def measure_memory(r: redis.Redis, target: str, cores: Cores, count: int) -> dict[str, Any]:
    r.flushdb()
    before = int(r.info("memory")["used_memory"])
    created = load_phase("create", target, cores, None, key=API_KEY, count=count, concurrency=16)
    n = len(created["ids"])
    after = int(r.info("memory")["used_memory"])
    encoding = None
    if created["ids"]:
        sample = next(r.scan_iter(match="vs:{*}:v:*", count=1000))
        encoding = r.object("encoding", sample)
    return {
        "pending": n,
        "used_memory_per_pending": (after - before) / max(n, 1),
        "families": memory_by_family(r, n),
        "hash_encoding": encoding.decode() if isinstance(encoding, bytes) else encoding,
    }


# --- the run ----------------------------------------------------------------------------


def parse_workers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    cpu_count = os.cpu_count() or 1
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--workers", type=parse_workers, default=[4, 8] if cpu_count >= 8 else [cpu_count]
    )
    p.add_argument("--concurrency", type=int, default=0, help="default: 8 per worker, >= 32")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=15.0, help="seconds per measured window")
    p.add_argument("--rounds", type=int, default=2, help="measured windows per phase")
    p.add_argument("--soak-flows", type=int, default=20_000)
    p.add_argument("--memory-count", type=int, default=2000)
    p.add_argument("--strategy", default=None, help="rate-limit strategy (default: shipped)")
    p.add_argument("--service-root", type=Path, default=ROOT, help="checkout whose service runs")
    p.add_argument("--skip", default="", help="comma-separated: bare,open,memory,checks,soak")
    p.add_argument(
        "--issue-baseline",
        action="store_true",
        help=f"write the config of issue 22's baseline service ({ISSUE_BASELINE}), for "
        "--service-root on a checkout of it",
    )
    p.add_argument(
        "--redis-apart",
        action="store_true",
        help="on fewer than 8 cores: Redis alone on core 0, everything else on the rest",
    )
    args = p.parse_args()
    configure = write_issue_baseline_config if args.issue_baseline else write_config
    skip = set(args.skip.split(","))
    cores = Cores(cpu_count, redis_apart=args.redis_apart)
    results: dict[str, Any] = {
        "machine": {
            "cores": cpu_count,
            "python": sys.version.split()[0],
            "load_average": os.getloadavg(),
            "placement": cores.describe(),
        },
        "service_root": str(args.service_root),
        "issue_baseline_config": args.issue_baseline,
        "workers": {},
    }
    print(f"machine: {cores.describe()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    service_env = {"PYTHONPATH": str(args.service_root)}
    tmp = Path(tempfile.mkdtemp(prefix="verify-bench-"))
    server: RedisServer = start_redis()
    assert server.process is not None
    pin(server.process.pid, cores.redis)
    r = redis.Redis.from_url(server.url)
    phase = {"warmup": args.warmup, "duration": args.duration}
    try:
        results["argon2_minimal_rate"] = argon2_rate(MINIMAL, 3, cores.service)
        sms_port = free_port()
        with process(
            uvicorn_cmd("bench.fake_sms:app", sms_port, 1),
            f"http://127.0.0.1:{sms_port}/",
            {"PYTHONPATH": str(ROOT)},
            cores.fake,
        ):
            sms = f"127.0.0.1:{sms_port}"
            minimal, default = tmp / "minimal.toml", tmp / "default.toml"
            configure(minimal, server.url, sms_port, MINIMAL, args.strategy)
            configure(default, server.url, sms_port, DEFAULT, args.strategy)
            for n in args.workers:
                concurrency = args.concurrency or max(32, 8 * n)
                entry: dict[str, Any] = {"concurrency": concurrency}
                results["workers"][str(n)] = entry
                if "bare" not in skip:
                    bare_port = free_port()
                    with process(
                        uvicorn_cmd("bench.bare_app:app", bare_port, n),
                        f"http://127.0.0.1:{bare_port}/",
                        {"PYTHONPATH": str(ROOT)},
                        cores.service,
                    ):
                        bare = load_phase(
                            "bare", f"127.0.0.1:{bare_port}", cores, None,
                            concurrency=concurrency, rounds=1, **phase,
                        )  # fmt: skip
                    entry["bare_requests_per_s"] = sum(
                        op["rps"] for op in bare["windows"][0]["ops"].values()
                    )
                port = free_port()
                target = f"127.0.0.1:{port}"
                with process(
                    serve_cmd(minimal, port, n),
                    f"http://{target}/health/ready",
                    service_env,
                    cores.service,
                    args.service_root,
                ) as service:
                    counters = Counters(r, workers_of(service))
                    flows = load_phase(
                        "flows", target, cores, counters, sms=sms, key=API_KEY,
                        concurrency=concurrency, wrong_ratio=0.2, rounds=args.rounds, **phase,
                    )  # fmt: skip
                    entry["flows"] = flows
                    windows = flows["windows"]
                    entry["spread"] = {
                        k: spread(windows, k)
                        for k in ("flows_per_s", "worker_cpu_ms_per_flow", "redis_cpu_us_per_flow")
                    }
                    entry["steady"] = all(v <= STEADY for v in entry["spread"].values())
                    peak = sum(w["counters"]["flows_per_s"] for w in windows) / len(windows)
                    entry["peak_flows_per_s"] = peak
                    print(_flows_line(n, entry), flush=True)
                    if n != max(args.workers):
                        continue
                    if "open" not in skip:
                        entry["open_70"] = load_phase(
                            "flows", target, cores, counters, sms=sms, key=API_KEY,
                            concurrency=concurrency * 2, rate=peak * 0.7, rounds=1, **phase,
                        )  # fmt: skip
                    if "memory" not in skip:
                        results["memory"] = measure_memory(r, target, cores, args.memory_count)
                        # what the operator setting that keeps such hashes compact would save
                        r.config_set("hash-max-listpack-value", 1024)
                        results["memory_listpack_1024"] = measure_memory(
                            r, target, cores, args.memory_count
                        )
                        r.config_set("hash-max-listpack-value", 64)
                    if "soak" not in skip:
                        rss_before = sum(w.memory_info().rss for w in counters.workers)
                        soak = load_phase(
                            "flows", target, cores, None, sms=sms, key=API_KEY,
                            concurrency=concurrency, warmup=0, rounds=1,
                            duration=args.soak_flows / max(peak, 1.0),
                        )  # fmt: skip
                        results["soak"] = {
                            "flows": soak["windows"][0]["ops"].get("check", {}).get("count", 0),
                            "rss_before_mib": rss_before / 2**20,
                            "rss_after_mib": sum(w.memory_info().rss for w in counters.workers)
                            / 2**20,
                        }
                if "checks" not in skip and n == max(args.workers):
                    results["checks"] = checks_phase(
                        default, port, n, cores, service_env, phase, args.service_root
                    )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2))


def checks_phase(
    config: Path,
    port: int,
    n: int,
    cores: Cores,
    env: dict[str, str],
    phase: dict[str, float],
    root: Path,
) -> dict[str, Any]:
    """Wrong-code checks at the shipped hashing, against raw argon2 on the same cores
    measured right before (a shared machine's speed drifts over minutes)."""
    target = f"127.0.0.1:{port}"
    ready = f"http://{target}/health/ready"
    with process(serve_cmd(config, port, n), ready, env, cores.service, root):
        created = load_phase("create", target, cores, None, key=API_KEY, count=300, concurrency=8)
        ids = Path(tempfile.mkstemp(suffix=".json")[1])
        ids.write_text(json.dumps(created["ids"]))
        argon2 = argon2_rate(DEFAULT, phase["duration"] / 3, cores.service)
        checks = load_phase(
            "checks", target, cores, None, key=API_KEY, ids=ids, concurrency=32, rounds=1, **phase
        )
        ids.unlink()
    rate = checks["windows"][0]["ops"]["check_wrong"]["rps"]
    return {"argon2_rate": argon2, "checks_per_s": rate, "ratio": rate / argon2}


def _flows_line(n: int, entry: dict[str, Any]) -> str:
    parts = []
    for w in entry["flows"]["windows"]:
        c = w["counters"]
        parts.append(
            f"{c['flows_per_s']:.0f} flows/s, {c['worker_cpu_ms_per_flow']:.2f} ms worker CPU, "
            f"{c['redis_cpu_us_per_flow']:.0f} µs Redis CPU per flow, "
            f"{c['redis_reads_per_flow']:.1f} Redis reads per flow"
        )
    return f"{n} workers: " + " | ".join(parts)


def _joined(windows: list[dict[str, Any]], key: str, fmt: str) -> str:
    return " / ".join(format(w[key], fmt) for w in windows)


def report(res: dict[str, Any]) -> None:
    m = res["machine"]
    print(f"\n{m['placement']}; load average at the start {m['load_average'][0]:.1f}\n")
    print(
        "| workers | flows/s (windows) | spread | worker CPU/flow | Redis CPU/flow | "
        "Redis busy | Redis calls/flow | Redis reads/flow | worker busy (cores, min..max) | "
        "bare Litestar req/s |"
    )
    balance = []
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, e in res["workers"].items():
        ws = [w["counters"] for w in e["flows"]["windows"]]
        calls = ws[-1]["redis_calls_per_flow"]
        top = ", ".join(f"{k} {v:.1f}" for k, v in sorted(calls.items(), key=lambda x: -x[1])[:8])
        total = sum(calls.values())
        busy = ws[-1]["worker_busy"]
        print(
            f"| {n} | {_joined(ws, 'flows_per_s', '.0f')} "
            f"| flows/s {e['spread']['flows_per_s'] * 100:.1f} %, "
            f"worker CPU {e['spread']['worker_cpu_ms_per_flow'] * 100:.1f} % "
            f"| {_joined(ws, 'worker_cpu_ms_per_flow', '.2f')} ms "
            f"| {_joined(ws, 'redis_cpu_us_per_flow', '.0f')} µs "
            f"| {ws[-1]['redis_busy'] * 100:.0f} % | {total:.1f} ({top}) "
            f"| {_joined(ws, 'redis_reads_per_flow', '.2f')} "
            f"| {busy[0]:.2f}..{busy[-1]:.2f} | {e.get('bare_requests_per_s', float('nan')):.0f} |"
        )
        shares = [
            " ".join(f"{b / max(sum(w['worker_busy']), 1e-9) * 100:.0f}%" for b in w["worker_busy"])
            for w in ws
        ]
        balance.append(f"{n} workers, each one's share of the workers' CPU: " + " | ".join(shares))
    print("\n" + "\n".join(balance))
    ns = list(res["workers"])
    if len(ns) >= 2:
        a, b = res["workers"][ns[0]], res["workers"][ns[-1]]
        print(
            f"\nscaling: {ns[-1]} workers / {ns[0]} workers = "
            f"{b['peak_flows_per_s'] / a['peak_flows_per_s']:.2f}"
        )
    last = res["workers"][ns[-1]]
    if "open_70" in last:
        ops = last["open_70"]["windows"][0]["ops"]
        for op in ("start", "check"):
            if op in ops:
                o = ops[op]
                print(
                    f"70 % of peak, {op}: p50 {o['p50_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, "
                    f"p99/p50 {o['p99_ms'] / o['p50_ms']:.2f}"
                )
    for name in ("memory", "memory_listpack_1024"):
        if name in res:
            mem = res[name]
            print(
                f"\nRedis memory per pending verification ({name}, hash encoding "
                f"{mem['hash_encoding']}): {mem['used_memory_per_pending']:.0f} B used_memory"
            )
            for family, f in mem["families"].items():
                print(
                    f"  {family}: {f['keys']} keys, {f['bytes_per_key']:.0f} B/key, "
                    f"{f['bytes_per_pending']:.0f} B per pending"
                )
    if "checks" in res:
        c = res["checks"]
        print(
            f"\nchecks at shipped hashing: {c['checks_per_s']:.1f}/s vs raw argon2 "
            f"{c['argon2_rate']:.1f}/s = {c['ratio']:.2f}"
        )
    if "soak" in res:
        s = res["soak"]
        print(
            f"worker RSS over a {s['flows']}-flow soak: {s['rss_before_mib']:.1f} -> "
            f"{s['rss_after_mib']:.1f} MiB"
        )
    errors = {
        n: w["errors"]
        for n, e in res["workers"].items()
        for w in e["flows"]["windows"]
        if w["errors"]
    }
    print("errors:", errors or "none")


if __name__ == "__main__":
    main()
