"""The worker threads of argon2: hashing is CPU- and memory-bound and releases the GIL, so
it runs off the event loop, at most `threads` runs at once per process (a burst of checks
queues instead of thrashing the cores' caches).

A plain `ThreadPoolExecutor` handed to the loop (`run_in_executor`): anyio's
`to_thread.run_sync` with a CapacityLimiter did the same with a cancel scope, the
limiter's bookkeeping and backend lookups around each hand-off, ~150 Python calls and
~12 µs of CPU per hand-off (2.2 a verification flow; docs/performance.md). A cancelled
caller (shutdown) stops waiting at once; a run that has not started yet is dropped, one
that has finishes in its thread and its result is discarded (a hash has no side effect).
One pool per thread count, shared by every app of the process (tests build many)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of `threads` hashing threads (made on first use)."""
    found = _pools.get(threads)
    if found is None:
        with _lock:
            found = _pools.get(threads)
            if found is None:
                found = ThreadPoolExecutor(threads, thread_name_prefix=f"argon2-{threads}")
                _pools[threads] = found
    return found


async def run_in_hash_thread(threads: int, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in one of the `threads` hashing threads; its result or its exception."""
    # What `loop.run_in_executor` does, without its checks of `fn` (a coroutine function
    # is refused there; ours are plain functions) and the partial: 6 Python calls fewer.
    return await asyncio.wrap_future(pool(threads).submit(fn, *args))
