"""Where a flow's Python CPU goes, counted: the app in this process (driven through its ASGI
interface, so no HTTP server or client parses anything here), a throwaway redis-server,
and the fake SMS provider on loopback (the provider call goes over real HTTP). Runs
`--flows` flows (start -> code from the fake -> right check; minimal hashing), warm-up
first, under cProfile, and prints Python function calls per flow, CPU per flow, and the
functions with the most own time and the most calls.

Function calls per flow do not depend on the machine's load: they are the figure to
compare before and after a change (`--service-root` is not needed: run it in each
checkout).

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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import API_KEY, MINIMAL, process, uvicorn_cmd, write_config  # noqa: E402
from tests.support.redis_server import free_port, start_redis  # noqa: E402
from verify_service.api.app import create_app  # noqa: E402
from verify_service.config import load_settings  # noqa: E402
from verify_service.config.secrets import secrets_of  # noqa: E402
from verify_service.observability.logs import configure_logging  # noqa: E402


async def flows(app: object, sms: httpx.AsyncClient, count: int, start_at: int) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://svc", headers=headers
    ) as svc:
        for i in range(start_at, start_at + count):
            to = f"+4179{i:07d}"
            r = await svc.post("/v1/verifications", json={"to": to})
            assert r.status_code == 201, r.text
            text = (await sms.get("/last", params={"to": to})).json()["text"]
            r = await svc.post("/v1/verifications/check", json={"to": to, "code": text[-6:]})
            assert r.json()["valid"] is True, r.text


async def main_async(
    args: argparse.Namespace, config: Path, sms_url: str, log_stream: object
) -> float:
    settings = load_settings(str(config), {})
    # as `serve` logs (INFO, JSON, redacted), into the void: the lines' cost is counted
    configure_logging(level="INFO", secrets=secrets_of(settings), stream=log_stream)
    app = create_app(settings)
    async with app.lifespan(), httpx.AsyncClient(base_url=sms_url) as sms:
        await flows(app, sms, args.warmup, 0)
        profiler = cProfile.Profile()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        profiler.enable()
        await flows(app, sms, args.flows, args.warmup)
        profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stats = pstats.Stats(profiler)
    calls = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(
        f"{args.flows} flows: {calls / args.flows:.0f} Python function calls per flow, "
        f"{cpu / args.flows * 1000:.2f} ms CPU per flow under the profiler "
        f"(this process: the app and the ASGI client, not Redis or the fake); {wall:.1f} s"
    )
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    return calls / args.flows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--flows", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--json", default="")
    args = p.parse_args()
    server = start_redis()
    tmp = Path(tempfile.mkdtemp(prefix="verify-profile-"))
    try:
        sms_port = free_port()
        with process(
            uvicorn_cmd("bench.fake_sms:app", sms_port, 1),
            f"http://127.0.0.1:{sms_port}/",
            {"PYTHONPATH": str(ROOT)},
        ):
            config = tmp / "profile.toml"
            write_config(config, server.url, sms_port, MINIMAL, None)
            with open(os.devnull, "w") as void:
                per_flow = asyncio.run(
                    main_async(args, config, f"http://127.0.0.1:{sms_port}", void)
                )
            if args.json:
                Path(args.json).write_text(json.dumps({"calls_per_flow": per_flow}))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
