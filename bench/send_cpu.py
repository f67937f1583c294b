"""The provider send's CPU on the event loop's thread: the `http` kind's `send()` to the
bench's fake provider (`bench/fake_sms.py`, the same config as `bench/run.py`'s) over
loopback HTTP, one at a time, on uvloop, timed with `time.thread_time()` (this thread's
CPU: the fake runs in a process of its own).

Usage: python -m bench.send_cpu [--sends 3000] [--rounds 5] [--profile] [--service-root DIR]
`--service-root` imports another checkout's `verify_service` (main's, for a before/after
run with this driver). Prints the loop thread's CPU per send of each round (µs) and their
median; `--profile` prints cProfile's calls per send by package and the top functions."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def _rounds(sms_port: int, sends: int, rounds: int, profile: bool) -> list[float]:
    from verify_service.providers.base import OutgoingMessage
    from verify_service.providers.kinds.http_generic import HttpGenericProvider, HttpOptions

    options = HttpOptions.model_validate(
        {
            "kind": "http",
            "url": f"http://127.0.0.1:{sms_port}/sms",
            "body": {"to": "{to}", "text": "{text}"},
            "message_id_field": "id",
        }
    )
    provider = HttpGenericProvider("fake", options)
    messages = [
        OutgoingMessage(
            to=f"+4179{i % 10_000_000:07d}",
            text=f"Your code is {i % 1_000_000:06d}",
            reference=f"v{i}",
            code=f"{i % 1_000_000:06d}",
        )
        for i in range(sends)
    ]
    for m in messages[:200]:  # warm: the connection, the caches
        await provider.send(m)
    per_send: list[float] = []
    for _ in range(rounds):
        if profile:
            prof = cProfile.Profile(time.thread_time)
            prof.enable()
        start = time.thread_time()
        for m in messages:
            await provider.send(m)
        per_send.append((time.thread_time() - start) / sends * 1e6)
        if profile:
            prof.disable()
            _report(prof, sends)
    await provider.aclose()
    return per_send


def _report(prof: cProfile.Profile, sends: int) -> None:
    stats = pstats.Stats(prof)
    by_package: dict[str, int] = {}
    rows = []
    for (path, _line, name), (_cc, calls, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = next(
            (
                p
                for p in ("aiohttp", "httpx", "yarl", "multidict", "asyncio", "verify_service")
                if f"/{p}/" in path
            ),
            "builtins" if path == "~" else "other",
        )
        by_package[key] = by_package.get(key, 0) + calls
        rows.append((tt, calls, f"{path.rsplit('/', 2)[-1]}:{name}"))
    total = sum(by_package.values())
    print(
        f"calls per send {total / sends:.1f}: "
        + ", ".join(
            f"{k} {v / sends:.1f}" for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        )
    )
    for tt, calls, where in sorted(rows, reverse=True)[:25]:
        print(f"  {tt / sends * 1e6:7.2f} µs  {calls / sends:5.2f}/send  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--service-root", type=Path, default=ROOT)
    args = parser.parse_args()
    # before bench.run, which puts this checkout first on the path and imports the service
    sys.path.insert(0, str(args.service_root))
    import uvloop

    import verify_service
    from bench.run import free_port, process, uvicorn_cmd

    sms_port = free_port()
    with (
        tempfile.TemporaryDirectory(),
        process(
            uvicorn_cmd("bench.fake_sms:app", sms_port, 1),
            f"http://127.0.0.1:{sms_port}/",
            {"PYTHONPATH": str(ROOT)},
        ),
    ):
        per_send = uvloop.run(_rounds(sms_port, args.sends, args.rounds, args.profile))
    print(f"service: {Path(verify_service.__file__).parent}")
    print("loop thread CPU per send (µs): " + " ".join(f"{x:.1f}" for x in per_send))
    print(f"median {statistics.median(per_send):.1f}")


if __name__ == "__main__":
    main()
