"""Issue 15.7: a client may not hold a connection by sending its request slowly. `serve`
bounds the time from the connection (or a request's first byte) to the end of its body
(`--request-timeout`); raw sockets that dribble a head or a body are closed within it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_server import wait_until_live
from tests.support.redis_server import free_port
from verify_service.api.slow_clients import RequestTimeoutProtocol, protocol

BOUND = 2.0
SLACK = 2.0  # a loaded 2-core machine
CONNECTIONS = 100
CLI = [sys.executable, "-m", "verify_service", "serve"]


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "VERIFY_CONFIG": ""}
    process = subprocess.Popen(
        [*CLI, "--port", str(port), "--request-timeout", str(BOUND)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_live(f"http://127.0.0.1:{port}", process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)


async def dribble(port: int, lines: list[bytes], every: float = 1.0) -> tuple[float, bytes]:
    """Send `lines` one per `every` seconds (then nothing) until the server closes; the
    seconds that took and what the server answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = b""

    async def read() -> None:
        nonlocal answer
        while chunk := await reader.read(4096):
            answer += chunk

    reading = asyncio.create_task(read())
    try:
        for line in lines:
            if reading.done():
                break
            try:
                writer.write(line)
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait({reading}, timeout=every)
        await asyncio.wait_for(reading, timeout=30)
    finally:
        writer.close()
    return time.monotonic() - started, answer


SLOW_HEAD = [b"GET /health/live HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 30
SLOW_BODY = [
    b"POST /v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
] + [b" "] * 30


async def test_a_dribbled_head_is_408_and_closed_within_the_bound(server: int) -> None:
    seconds, answer = await dribble(server, SLOW_HEAD)
    assert seconds < BOUND + SLACK
    assert answer.startswith(b"HTTP/1.1 408")


async def test_a_dribbled_body_is_closed_within_the_bound(server: int) -> None:
    seconds, _ = await dribble(server, SLOW_BODY)
    assert seconds < BOUND + SLACK


async def test_a_silent_connection_is_closed_within_the_bound(server: int) -> None:
    seconds, _ = await dribble(server, [])
    assert seconds < BOUND + SLACK


async def test_many_slow_clients_are_all_closed_and_others_are_served(server: int) -> None:
    slow = [asyncio.create_task(dribble(server, SLOW_HEAD)) for _ in range(CONNECTIONS)]
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        assert (await client.get("/health/live")).status_code == 200
    results = await asyncio.gather(*slow)
    assert max(seconds for seconds, _ in results) < BOUND + SLACK + 1.0


def test_the_protocol_factory_reaches_worker_processes() -> None:
    """`--workers` sends uvicorn's config to fresh processes: the factory must pickle."""
    import pickle

    factory = pickle.loads(pickle.dumps(protocol(3.0)))
    assert factory.func is RequestTimeoutProtocol
    assert factory.keywords == {"request_timeout": 3.0}
