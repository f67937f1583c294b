"""Every kind of Redis caller goes through the store's deadline (`store_call`): on a hung
Redis each one answers `store_unavailable` (a 503 the client can retry) within the
deadline, instead of waiting through the client's timeouts and retries."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Iterator

import limits
import pytest

from tests.conftest import TAG_KEY
from tests.support.redis_server import RedisServer, start_redis
from verify_service.abuse.fraud import guard_args
from verify_service.config.abuse import FraudGuard
from verify_service.domain.errors import VerifyError
from verify_service.store import Store, keys
from verify_service.store.fraud import FraudStore
from verify_service.store.limiter import Layer, RateLimiter
from verify_service.store.outbox import OutboxStore

pytestmark = pytest.mark.redis  # stops (SIGSTOP) a redis-server of its own

TO = "+41791234567"
TAG = keys.tag_for(TAG_KEY, "login", TO)
SLACK = 2.0  # scheduling on a loaded machine


@pytest.fixture
def hung_redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)  # a stopped server cannot terminate
    server.stop()


async def test_every_caller_gives_up_at_the_deadline(hung_redis: RedisServer) -> None:
    store = Store.from_url(hung_redis.url)
    await store.load_scripts()
    outbox = OutboxStore(store.client)
    guard = FraudStore(store)
    limiter = RateLimiter(store)
    assert hung_redis.process is not None
    os.kill(hung_redis.process.pid, signal.SIGSTOP)  # accepts, answers nothing
    calls: dict[str, Awaitable[object]] = {
        "fetch": store.fetch(tag=TAG, service="login", verification_id=keys.new_id(TAG)),
        "pumping guard": guard.start(
            "login",
            ["*", "+41"],
            ["service", "country"],
            [3.0, 3.0],
            [],
            guard_args(FraudGuard()),
            allowed=False,
            number_id="n",
        ),
        "rate limit": limiter.hit(
            "fixed-window", [Layer("per_ip", keys.tagged("x"), [limits.parse("5/minute")])]
        ),
        "outbox push": outbox.push(TO, {"body": "x"}),
        "outbox read": outbox.newest_first(TO),
    }
    started = time.monotonic()
    results = await asyncio.gather(*calls.values(), return_exceptions=True)
    elapsed = time.monotonic() - started
    answers = {
        name: (r.code, r.detail) if isinstance(r, VerifyError) else repr(r)
        for name, r in zip(calls, results, strict=True)
    }
    unavailable = ("store_unavailable", "the verification store did not answer")
    outbox_unavailable = ("store_unavailable", "the test outbox did not answer")
    assert answers == {
        "fetch": unavailable,
        "pumping guard": unavailable,
        "rate limit": unavailable,
        "outbox push": outbox_unavailable,
        "outbox read": outbox_unavailable,
    }
    assert elapsed < store.deadline + SLACK
    os.kill(hung_redis.process.pid, signal.SIGCONT)
    await store.aclose()
