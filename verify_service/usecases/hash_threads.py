"""The worker threads of argon2: hashing is CPU- and memory-bound and releases the GIL, so
it runs off the event loop, at most `threads` runs at once per process (a burst of checks
queues instead of thrashing the cores' caches).

`threads` plain threads taking (function, arguments, the caller's future) from one queue
and handing the result back through the caller's loop (`call_soon_threadsafe`). A
`ThreadPoolExecutor` through `asyncio.wrap_future` did the same with a second future (its
`Condition`, its callbacks chained to the asyncio one), the executor's lock, its
work-item and thread-count bookkeeping per run: ~12-19 µs more of the event loop's CPU per
hand-off (microbenchmark, 2.2 hand-offs a verification flow; docs/performance.md, "Wave
7"), and anyio's `to_thread.run_sync` before it more still. A cancelled caller (shutdown)
stops waiting at once; a run that has not started yet is dropped, one that has finishes
in its thread and its result is discarded (a hash has no side effect). One pool per
thread count, shared by every app of the process (tests build many)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# (the caller's loop, its future, the function, its arguments)
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class HashPool:
    """`threads` daemon threads serving one queue (started with the pool). Daemon: a run
    left at the interpreter's exit has nobody waiting for it."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        for n in range(threads):
            name = f"argon2-{threads}_{n}"
            threading.Thread(target=self._serve, name=name, daemon=True).start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return await future

    def _serve(self) -> None:
        while True:
            loop, future, fn, args = self._jobs.get()
            if future.cancelled():  # its caller stopped waiting before it started
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # as a ThreadPoolExecutor hands every error back
                _hand_back(loop, future, None, exc)
            else:
                _hand_back(loop, future, result, None)


def _hand_back(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for it
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    # On the loop's thread; the caller may have been cancelled while the run went on.
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


_pools: dict[int, HashPool] = {}
_lock = threading.Lock()
# A forked child has none of its parent's threads: it starts its own pools.
os.register_at_fork(after_in_child=_pools.clear)


def pool(threads: int) -> HashPool:
    """The process's pool of `threads` hashing threads (made on first use)."""
    found = _pools.get(threads)
    if found is None:
        with _lock:
            found = _pools.get(threads)
            if found is None:
                found = HashPool(threads)
                _pools[threads] = found
    return found


async def run_in_hash_thread(threads: int, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in one of the `threads` hashing threads; its result or its exception."""
    return await pool(threads).run(fn, *args)
