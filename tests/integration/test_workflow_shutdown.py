"""Shutdown with the workflow poller running: the app stops at once, however the poll was
interrupted.

The root cause of the old shutdown hang: on CPython 3.11, `asyncio.wait_for` returns the
result and drops a cancellation that arrives in the loop turn where the awaited call ends
(gh-86296, fixed in 3.12); redis-py wraps every socket write in it when `socket_timeout` is
set. A poll cancelled at that moment went on polling, and shutdown waited out its bound."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest
import redis.asyncio as aioredis

from tests.conftest import API_KEY
from tests.integration.test_workflows import channel_settings
from tests.support.helpers import open_api
from tests.support.redis_server import RedisServer
from verify_service.store import Store
from verify_service.store.workflows import WorkflowEntry

# A hung poll holds shutdown for its whole block (30 s below, the Redis timeout on a real
# server); a prompt stop takes milliseconds, up to ~1.2 s on a machine at load 16. 5 s
# separates the two with room for a slow CI machine.
STOPS_WITHIN_S = 5.0


async def test_shutdown_is_prompt_when_a_poll_swallows_its_cancellation() -> None:
    settings = channel_settings(workflow_poll_interval=0.05)
    claims = 0

    async def claim(limit: int, lease_s: float) -> list[WorkflowEntry]:
        nonlocal claims
        claims += 1
        if claims == 1:
            # Swallowed, as asyncio.wait_for does on CPython 3.11 when the write ends meanwhile.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
        return []

    async with open_api(settings, Store.embedded(), API_KEY) as api:
        workflows = api.components.workflows
        assert workflows is not None
        workflows.queue.claim = claim  # type: ignore[method-assign]
        # The app runs in the test client's own event loop: polled, not an asyncio.Event.
        while claims == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        began = time.monotonic()
    assert time.monotonic() - began < STOPS_WITHIN_S
    assert claims == 1  # no poll after the one shutdown interrupted


@pytest.mark.redis
async def test_shutdown_is_prompt_on_a_real_redis(redis_server: RedisServer) -> None:
    """Apps started and stopped at random moments of their polls, on a real redis-server
    (where redis-py's socket timeouts are in play): each stops within a second."""
    settings = channel_settings(workflow_poll_interval=0.05)
    took = []
    for _ in range(30):
        store = Store(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
        async with open_api(settings, store, API_KEY):
            await asyncio.sleep(random.uniform(0.02, 0.12))
            began = time.monotonic()
        took.append(time.monotonic() - began)
    assert max(took) < STOPS_WITHIN_S, sorted(took)[-3:]
