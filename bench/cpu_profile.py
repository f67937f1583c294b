"""Where a flow's Python CPU goes, counted: the app in this process, driven through its ASGI
interface by a minimal driver (no HTTP server or client library parses anything here), a
throwaway redis-server, and the fake SMS provider on loopback (the app's provider call goes
over real HTTP). Runs `--flows` flows as `bench/run.py` does (start -> code from the fake
-> every `1/--wrong-ratio`-th flow one wrong check -> right check; minimal hashing; logging
as `serve` configures it, into the void; prometheus_client in multiprocess mode, as
`serve --workers N` runs it), warm-up first.

The profiler runs only while the app handles a request (the driver and the code lookup at
the fake are left out), on the event loop `serve` uses (uvloop), with a CPU-time clock.
It prints, per flow: Python function calls, CPU time of this process while the app ran
(profiler overhead included, argon2's threads included; without the profiler also the
event loop's thread alone: the service's Python, argon2 left out), own time by package
(where the CPU goes: the service's code, the framework, redis-py, httpx, logging,
metrics, ...), and the functions with the most own time or calls.

Function calls per flow do not depend on the machine's load: they are the figure to
compare before and after a change (run it in each checkout; `--service-root` is not
needed). Own times are CPU times and move less with load than wall times, but are
inflated by the profiler (every call is timed) and by a busy machine.

    python bench/cpu_profile.py --flows 2000 [--top 30] [--sort tottime|ncalls|cumtime]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Message = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]  # an ASGI app

# Own time is summed by the first of these that a function's file path contains.
PACKAGES = (
    ("verify_service", "/verify_service/"),
    ("litestar", "/litestar/"),
    ("redis-py", "/redis/"),
    ("httpx/httpcore/h11", "/httpx/"),
    ("httpx/httpcore/h11", "/httpcore/"),
    ("httpx/httpcore/h11", "/h11/"),
    ("aiohttp/yarl/multidict", "/aiohttp/"),
    ("aiohttp/yarl/multidict", "/yarl/"),
    ("aiohttp/yarl/multidict", "/multidict/"),
    ("anyio/sniffio", "/anyio/"),
    ("anyio/sniffio", "/sniffio/"),
    ("prometheus_client", "/prometheus_client/"),
    ("logging/json", "/logging/"),
    ("logging/json", "/json/"),
    ("msgspec", "msgspec"),
    ("pydantic", "pydantic"),
    ("phonenumbers", "/phonenumbers/"),
    ("argon2", "argon2"),
    ("asyncio/stdlib", "/asyncio/"),
    ("uvicorn/httptools", "/uvicorn/"),
    ("uvicorn/httptools", "/httptools/"),
)


class Driver:
    """Requests straight into the app's ASGI callable, the profiler on only while the app
    runs; what a server would hand it (scope, one body message)."""

    def __init__(self, app: App, profiler: cProfile.Profile | None, key: str) -> None:
        self.app = app
        self.profiler = profiler
        self.headers = [
            (b"host", b"svc"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
        ]
        self.cpu = 0.0
        self.loop_cpu = 0.0  # the event loop's thread alone: argon2's threads left out

    async def post(self, path: str, data: dict[str, str]) -> tuple[int, Any]:
        body = json.dumps(data).encode()
        scope: Message = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # a disconnect never comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            else:
                chunks.append(message.get("body", b""))

        cpu0 = time.process_time()
        loop0 = time.thread_time()
        if self.profiler:
            self.profiler.enable()
        try:
            await self.app(scope, receive, send)
        finally:
            if self.profiler:
                self.profiler.disable()
            self.cpu += time.process_time() - cpu0
            self.loop_cpu += time.thread_time() - loop0
        return status, json.loads(b"".join(chunks) or b"null")


async def flows(driver: Driver, sms: Any, count: int, start_at: int, wrong_every: int) -> None:
    for i in range(start_at, start_at + count):
        to = f"+4179{i:07d}"
        status, reply = await driver.post("/v1/verifications", {"to": to})
        assert status == 201, reply
        code = (await sms.get("/last", params={"to": to})).json()["text"][-6:]
        if wrong_every and i % wrong_every == 0:
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            status, reply = await driver.post("/v1/verifications/check", {"to": to, "code": wrong})
            assert status == 200, reply
            assert reply["valid"] is False, reply
        status, reply = await driver.post("/v1/verifications/check", {"to": to, "code": code})
        assert status == 200, reply
        assert reply["valid"] is True, reply


def by_package(stats: pstats.Stats, per: int) -> list[tuple[str, float, float]]:
    """(package, own ms per flow, calls per flow), costliest first."""
    totals: dict[str, list[float]] = {}
    for (filename, _, _), (_, calls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        name = next((p for p, part in PACKAGES if part in filename), "other")
        if filename == "~":  # C functions: builtins, methods of C types
            name = "builtins (C)"
        acc = totals.setdefault(name, [0.0, 0.0])
        acc[0] += tottime
        acc[1] += calls
    rows = [(name, t / per * 1000, c / per) for name, (t, c) in totals.items()]
    return sorted(rows, key=lambda row: -row[1])


async def main_async(args: argparse.Namespace, config: Path, sms_url: str) -> dict[str, Any]:
    import httpx

    from bench.run import API_KEY, BENCH_ENV
    from verify_service.api.app import create_app
    from verify_service.config import load_settings
    from verify_service.config.secrets import secrets_of
    from verify_service.observability.logs import configure_logging

    settings = load_settings(str(config), BENCH_ENV)
    with open(os.devnull, "w") as void:  # noqa: ASYNC230 - before anything is measured
        # as `serve` logs (the level given, JSON, redacted), into the void: the lines' cost
        # is counted
        configure_logging(level=args.log_level, secrets=secrets_of(settings), stream=void)
        app = create_app(settings)
        wrong_every = round(1 / args.wrong_ratio) if args.wrong_ratio else 0
        async with app.lifespan(), httpx.AsyncClient(base_url=sms_url) as sms:
            await flows(Driver(app, None, API_KEY), sms, args.warmup, 0, wrong_every)
            plain = Driver(app, None, API_KEY)
            await flows(plain, sms, args.flows, args.warmup, wrong_every)
            profiler = cProfile.Profile(time.process_time)
            driver = Driver(app, profiler, API_KEY)
            await flows(driver, sms, args.flows, args.warmup + args.flows, wrong_every)
    stats = pstats.Stats(profiler)
    n = args.flows
    calls = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
    own = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    packages = by_package(stats, n)
    print(
        f"{n} flows ({args.wrong_ratio:.0%} with a wrong check): "
        f"{calls / n:.0f} Python function calls per flow; CPU per flow while the app ran: "
        f"{plain.cpu / n * 1000:.2f} ms without the profiler (the event loop's thread "
        f"{plain.loop_cpu / n * 1000:.2f} ms), {driver.cpu / n * 1000:.2f} ms "
        f"with it ({own / n * 1000:.2f} ms own time on the event loop's thread)"
    )
    if args.save:
        stats.dump_stats(args.save)
    print("\nown time by package, per flow:")
    for name, ms, c in packages:
        print(f"  {name:<22} {ms:6.3f} ms  {c:8.0f} calls")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    return {
        "calls_per_flow": calls / n,
        "cpu_ms_per_flow": plain.cpu / n * 1000,
        "loop_thread_cpu_ms_per_flow": plain.loop_cpu / n * 1000,
        "profiled_cpu_ms_per_flow": driver.cpu / n * 1000,
        "own_ms_per_flow": own / n * 1000,
        "packages": {name: {"ms": ms, "calls": c} for name, ms, c in packages},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--flows", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--wrong-ratio", type=float, default=0.2)
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--single-process",
        action="store_true",
        help="metrics as one `serve` worker counts them (default: as `--workers N`)",
    )
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--json", default="", help="write the figures to this file")
    p.add_argument("--save", default="", help="write the profile (pstats) to this file")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="verify-profile-"))
    if not args.single_process:
        # read by prometheus_client when it is first imported (below, with the app)
        (tmp / "metrics").mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")

    import uvloop

    from bench.run import fake_provider
    from tests.support.redis_server import start_redis

    server = start_redis()
    try:
        with fake_provider(tmp, server.url) as (sms_port, config):
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                result = runner.run(main_async(args, config, f"http://127.0.0.1:{sms_port}"))
            if args.json:
                Path(args.json).write_text(json.dumps(result, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
