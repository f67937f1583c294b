"""argon2's worker threads: the event loop keeps serving while hashes run, at most the
configured number run at once, and a hash's result or error comes back to its caller."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from verify_service.usecases.hash_threads import run_in_hash_thread


async def test_hashes_run_off_the_loop_and_at_most_threads_at_once() -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    loop_thread = threading.get_ident()

    def slow_hash(n: int) -> tuple[int, bool]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # what argon2 does to the calling thread: holds it, not the GIL
        with lock:
            running -= 1
        return n * 2, threading.get_ident() == loop_thread

    ticks = 0

    async def loop_keeps_serving() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(loop_keeps_serving())
    results = await asyncio.gather(*(run_in_hash_thread(3, slow_hash, n) for n in range(9)))
    ticker.cancel()
    assert [r[0] for r in results] == [n * 2 for n in range(9)]
    assert not any(on_loop for _, on_loop in results)
    assert most == 3  # 9 hashes, 3 threads: three rounds of three
    assert ticks >= 3  # ~150 ms of hashing; the loop ran its timer meanwhile


async def test_a_hash_error_reaches_its_caller() -> None:
    def broken(_: str) -> str:
        raise ValueError("not a hash")

    with pytest.raises(ValueError, match="not a hash"):
        await run_in_hash_thread(2, broken, "x")


async def test_a_cancelled_caller_stops_waiting_and_a_queued_run_is_dropped() -> None:
    started: list[str] = []
    release = threading.Event()
    loop = asyncio.get_running_loop()
    running = asyncio.Event()

    def slow(name: str) -> str:
        started.append(name)
        loop.call_soon_threadsafe(running.set)
        release.wait(5)
        return name

    busy = asyncio.create_task(run_in_hash_thread(1, slow, "busy"))  # holds the one thread
    queued = asyncio.create_task(run_in_hash_thread(1, slow, "queued"))
    await running.wait()
    busy.cancel()
    queued.cancel()
    began = time.monotonic()
    for task in (busy, queued):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert time.monotonic() - began < 1  # neither waited for the running hash
    release.set()
    # The thread finishes the run it had begun (its result discarded), skips the cancelled
    # one, and serves the next caller.
    assert await run_in_hash_thread(1, lambda: "next") == "next"
    assert started == ["busy"]
