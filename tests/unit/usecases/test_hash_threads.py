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
