"""Where a `serve` worker's CPU goes under load, sampled rather than traced: one
`verify-service serve` worker (minimal hashing, the shipped log level, a throwaway
redis-server, the fake SMS provider), driven by `bench/load.py` as `bench/run.py` drives
it, and sampled by py-spy (https://github.com/benfred/py-spy; not a dependency of the
project: give its path) for `--duration` seconds after `--warmup`.

A sampler costs the worker nothing per call, so unlike cProfile (bench/cpu_profile.py) it
does not inflate code that makes many small calls. Prints the worker's CPU per flow (the
OS's count) and how it divides: by the package of the innermost frame (own time) and by
what a stack passes through (inclusive: logging, metrics, the provider call, Redis
calls, the framework, thread hand-offs), each share times the CPU per flow.

    python bench/spy_profile.py --py-spy /path/to/py-spy [--duration 20] [--service-root DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu_profile import PACKAGES  # noqa: E402
from bench.run import (  # noqa: E402
    API_KEY,
    fake_provider,
    process,
    serve_cmd,
    workers_of,
)
from tests.support.redis_server import free_port, start_redis  # noqa: E402

# Inclusive groups: a sample counts for a group when any frame of its stack matches.
GROUPS = (
    ("request log line (logging: filter, format, write)", ("logging/__init__.py",)),
    ("metrics (prometheus_client)", ("/prometheus_client/",)),
    ("provider call (httpx, httpcore, h11)", ("/httpx/", "/httpcore/")),
    ("Redis calls (redis-py, hiredis)", ("/redis/",)),
    ("anyio (cancel scopes, task groups, to_thread)", ("/anyio/",)),
    ("argon2 (hashing threads)", ("argon2",)),
    ("phone numbers (phonenumbers)", ("/phonenumbers/",)),
    ("Litestar's own frames", ("/litestar/",)),
    ("uvicorn / httptools (HTTP parsing, ASGI glue)", ("/uvicorn/",)),
)


# Innermost frames of threads that wait (lock or condition), not run.
# (A ThreadPoolExecutor's idle thread waits in `_worker`, on its queue, in C.)
IDLE = ("Condition.wait ", "Event.wait ", "Thread._wait_for_tstate_lock ", "_worker ")


def frame_file(frame: str) -> str:
    # py-spy's raw format: "function (path:line)"
    inside = frame.rsplit("(", 1)[-1]
    return inside.rsplit(":", 1)[0]


def summarise(raw: Path, cpu_ms_per_flow: float) -> dict[str, dict[str, float]]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(idle in frames[-1] for idle in IDLE):
            continue  # a thread pool's worker waiting for work: py-spy sees it as active
        total += count
        leaf = frame_file(frames[-1])
        name = next((p for p, part in PACKAGES if part in leaf), "other")
        if frames[-1].startswith("Runner.run "):
            name = "event loop (uvloop, C)"
        own[name] += count
        leaves[frames[-1].split(" (", 1)[0] + " " + Path(leaf).name] += count
        files = [frame_file(f) for f in frames]
        for function in {f.split(" (", 1)[0] + " " + Path(frame_file(f)).name for f in frames}:
            functions[function] += count
        for group, parts in GROUPS:
            if any(part in f for f in files for part in parts):
                inclusive[group] += count
    total = max(total, 1)

    def table(counter: Counter[str]) -> dict[str, float]:
        return {k: v / total * cpu_ms_per_flow for k, v in counter.most_common()}

    return {
        "own": table(own),
        "inclusive": table(inclusive),
        "functions": table(functions),
        "leaves": table(leaves),
        "samples": {"total": total},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--py-spy", required=True, help="path of the py-spy executable")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=int, default=250, help="samples per second")
    p.add_argument("--service-root", type=Path, default=ROOT)
    p.add_argument("--top", type=int, default=40, help="functions listed, by inclusive time")
    p.add_argument("--json", default="")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="verify-spy-"))
    server = start_redis()
    try:
        with fake_provider(tmp, server.url) as (sms_port, config):
            port = free_port()
            target = f"127.0.0.1:{port}"
            with process(
                serve_cmd(config, port, 1),
                f"http://{target}/health/ready",
                {"PYTHONPATH": str(args.service_root)},
                None,
                args.service_root,
            ) as service:
                (worker,) = workers_of(service)
                load = subprocess.Popen(
                    [
                        sys.executable, str(ROOT / "bench" / "load.py"), "flows",
                        "--target", target, "--sms", f"127.0.0.1:{sms_port}", "--key", API_KEY,
                        "--concurrency", str(args.concurrency), "--wrong-ratio", "0.2",
                        "--warmup", str(args.warmup), "--duration", str(args.duration),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                assert load.stdout is not None
                raw = tmp / "samples.txt"
                spy = None
                cpu0 = 0.0
                result: dict[str, object] = {}
                for line in load.stdout:
                    if line.startswith("mark 0"):
                        t0 = worker.cpu_times()
                        cpu0 = t0.user + t0.system
                        spy = subprocess.Popen(
                            [
                                args.py_spy, "record", "--pid", str(worker.pid), "--format",
                                "raw", "--output", str(raw), "--rate", str(args.rate),
                                "--full-filenames", "--duration", str(int(args.duration)),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )  # fmt: skip
                    elif line.startswith("mark 1"):
                        t1 = worker.cpu_times()
                        cpu1 = t1.user + t1.system
                    elif line.startswith("result "):
                        result = json.loads(line[len("result ") :])
                load.wait()
                if spy is not None:
                    spy.wait()
    finally:
        server.stop()
    window = result["windows"][0]  # type: ignore[index]
    flows = window["ops"]["check"]["count"]
    cpu_ms = (cpu1 - cpu0) / max(flows, 1) * 1000
    system_ms = (t1.system - t0.system) / max(flows, 1) * 1000
    print(
        f"1 worker, {args.concurrency} connections: {flows / window['seconds']:.0f} flows/s, "
        f"worker CPU {cpu_ms:.2f} ms per flow (psutil; of which the kernel's {system_ms:.2f} "
        f"ms), errors {window['errors'] or 'none'}"
    )
    summary = summarise(raw, cpu_ms)
    samples = summary["samples"]["total"]
    print(f"\nown time by package (innermost frame), ms per flow; {samples:.0f} samples:")
    for name, ms in summary["own"].items():
        print(f"  {name:<48} {ms:6.2f}")
    print("\ninclusive (a stack passing through), ms per flow:")
    for name, ms in summary["inclusive"].items():
        print(f"  {name:<48} {ms:6.2f}")
    print(f"\nfunctions by inclusive time (ms per flow), top {args.top}:")
    for name, ms in list(summary["functions"].items())[: args.top]:
        print(f"  {ms:6.2f}  {name}")
    print(f"\nfunctions by own time (innermost frame, ms per flow), top {args.top}:")
    for name, ms in list(summary["leaves"].items())[: args.top]:
        print(f"  {ms:6.2f}  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu_ms_per_flow": cpu_ms, **summary}, indent=2))


if __name__ == "__main__":
    main()
