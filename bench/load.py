"""The load generator: a separate process driving the service (or the bare baseline) at a
fixed concurrency for a bounded time, or at a fixed rate (open loop, latency measured from
the scheduled start so that a slow server cannot hide its queueing).

Steady state: the load runs without a break through `--warmup` seconds and then `--rounds`
measured windows of `--duration` seconds each. At each boundary it prints `mark <i>` on
stdout (flushed), so that the driver (bench/run.py) reads the OS and Redis counters at the
same instants; each operation is counted in the window in which it completed. The last
line is `result <json>`: per window, counts, throughput and latency percentiles.

It speaks HTTP/1.1 with keep-alive over plain asyncio streams: a full HTTP client library
would spend more CPU per request than the bare baseline server, and on two cores the
client's cost would decide the ratios.

Prints one JSON document with counts, throughput and latency percentiles per operation."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Conn:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                return await self._exchange(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.writer = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None
        assert self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{self.extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


@dataclass
class Recorder:
    """(completion instant, latency) per operation, and errors with their instants."""

    done: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    errors: list[tuple[float, str]] = field(default_factory=list)

    def ok(self, op: str, seconds: float) -> None:
        self.done.setdefault(op, []).append((time.perf_counter(), seconds))

    def error(self, what: str) -> None:
        self.errors.append((time.perf_counter(), what))

    def window(self, start: float, end: float) -> dict[str, Any]:
        ops = {}
        for op, entries in self.done.items():
            values = sorted(lat for at, lat in entries if start <= at < end)
            if not values:
                continue
            ops[op] = {
                "count": len(values),
                "rps": len(values) / (end - start),
                "p50_ms": percentile(values, 0.50) * 1000,
                "p95_ms": percentile(values, 0.95) * 1000,
                "p99_ms": percentile(values, 0.99) * 1000,
            }
        errors: dict[str, int] = {}
        for at, what in self.errors:
            if start <= at < end:
                errors[what] = errors.get(what, 0) + 1
        return {"seconds": end - start, "ops": ops, "errors": errors}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


_numbers = itertools.count(random.randrange(0, 5_000_000))


def next_number() -> str:
    # Swiss mobile range +41 79 xxx xx xx: ten million numbers, a new one per flow.
    return f"+4179{next(_numbers) % 10_000_000:07d}"


def wrong_code(code: str) -> str:
    return "".join("1" if c != "1" else "2" for c in code)


async def one_flow(
    svc: Conn, sms: Conn, rec: Recorder, wrong_ratio: float, scheduled: float
) -> None:
    to = next_number()
    t0 = time.perf_counter()
    status, body = await svc.request("POST", "/v1/verifications", json.dumps({"to": to}).encode())
    t1 = time.perf_counter()
    if status != 201:
        rec.error(f"start {status}")
        return
    rec.ok("start", t1 - min(scheduled, t0))
    status, body = await sms.request("GET", f"/last?to=%2B{to[1:]}")
    if status != 200:
        rec.error(f"sms {status}")
        return
    code = json.loads(body)["text"].rsplit(" ", 1)[-1]
    if random.random() < wrong_ratio:
        t2 = time.perf_counter()
        payload = json.dumps({"to": to, "code": wrong_code(code)}).encode()
        status, body = await svc.request("POST", "/v1/verifications/check", payload)
        if status == 200 and not json.loads(body)["valid"]:
            rec.ok("check_wrong", time.perf_counter() - t2)
        else:
            rec.error(f"wrong check {status}")
    t3 = time.perf_counter()
    payload = json.dumps({"to": to, "code": code}).encode()
    status, body = await svc.request("POST", "/v1/verifications/check", payload)
    if status == 200 and json.loads(body)["valid"]:
        rec.ok("check", time.perf_counter() - t3)
    else:
        rec.error(f"check {status}")


async def one_bare(svc: Conn, _: Conn | None, rec: Recorder, __: float, scheduled: float) -> None:
    to = next_number()
    t0 = time.perf_counter()
    status, _body = await svc.request("POST", "/v1/verifications", json.dumps({"to": to}).encode())
    t1 = time.perf_counter()
    rec.ok("start", t1 - min(scheduled, t0)) if status == 201 else rec.error(f"start {status}")
    payload = json.dumps({"to": to, "code": "123456"}).encode()
    status, _body = await svc.request("POST", "/v1/verifications/check", payload)
    rec.ok("check", time.perf_counter() - t1) if status == 200 else rec.error(f"check {status}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    host, port = args.target.rsplit(":", 1)
    sms_host, sms_port = (args.sms or "127.0.0.1:0").rsplit(":", 1)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    rec = Recorder()
    flow = one_bare if args.mode == "bare" else one_flow
    ids: list[str] = []
    if args.mode == "checks":
        ids = json.loads(Path(args.ids).read_text())  # noqa: ASYNC240 - before the clock starts
    begin = time.perf_counter()
    bounds = [begin + args.warmup + i * args.duration for i in range(args.rounds + 1)]
    deadline = bounds[-1]
    slots = itertools.count()

    async def marks() -> None:
        for i, at in enumerate(bounds):
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            print(f"mark {i}", flush=True)

    async def worker(index: int) -> None:
        svc = Conn(host, int(port), headers)
        sms = Conn(sms_host, int(sms_port), {})
        while True:
            scheduled = time.perf_counter()
            if args.rate:
                scheduled = begin + next(slots) / args.rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if time.perf_counter() >= deadline:
                return
            try:
                if args.mode == "checks":
                    vid = ids[(index + random.randrange(len(ids))) % len(ids)]
                    payload = json.dumps({"verification_id": vid, "code": "00000000"}).encode()
                    t0 = time.perf_counter()
                    status, _ = await svc.request("POST", "/v1/verifications/check", payload)
                    if status == 200:
                        rec.ok("check_wrong", time.perf_counter() - min(t0, scheduled))
                    else:
                        rec.error(f"check {status}")
                else:
                    await flow(svc, sms, rec, args.wrong_ratio, scheduled)
            except Exception as exc:
                rec.error(type(exc).__name__)

    await asyncio.gather(marks(), *(worker(i) for i in range(args.concurrency)))
    windows = [rec.window(a, b) for a, b in itertools.pairwise(bounds)]
    return {"warmup": rec.window(begin, bounds[0]), "windows": windows}


async def create(args: argparse.Namespace) -> dict[str, Any]:
    """Start `count` verifications (no check) and print their ids, for the checks mode."""
    host, port = args.target.rsplit(":", 1)
    headers = {"Authorization": f"Bearer {args.key}"}
    ids: list[str] = []
    queue = iter(range(args.count))

    async def worker() -> None:
        conn = Conn(host, int(port), headers)
        for _ in queue:
            status, body = await conn.request(
                "POST", "/v1/verifications", json.dumps({"to": next_number()}).encode()
            )
            if status == 201:
                ids.append(json.loads(body)["id"])

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return {"ids": ids}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["flows", "bare", "checks", "create"])
    p.add_argument("--target", required=True)
    p.add_argument("--sms")
    p.add_argument("--key")
    p.add_argument("--ids")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured window")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds before the first window")
    p.add_argument("--rounds", type=int, default=1, help="measured windows, back to back")
    p.add_argument("--rate", type=float, default=0.0, help="flows per second (open loop)")
    p.add_argument("--wrong-ratio", type=float, default=0.0)
    p.add_argument("--affinity", default="", help="comma-separated cores to run on")
    args = p.parse_args()
    args.id_list = json.loads(Path(args.ids).read_text()) if args.ids else []
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.affinity:  # the driver's choice of cores for the load generator
        os.sched_setaffinity(0, {int(c) for c in args.affinity.split(",")})
    result = asyncio.run(create(args) if args.mode == "create" else run(args))
    sys.stdout.write("result " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
