"""Hard rule 1 under real concurrency, on a real redis-server (docs/architecture.md §3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from tests.support.helpers import sent_code
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store

TO = "+41791234567"


@pytest.fixture
async def real_store(redis_server: RedisServer) -> AsyncIterator[Store]:
    # A pool large enough that the calls really run in parallel on the server.
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True, max_connections=200)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    yield store
    await store.aclose()


@pytest.fixture
def verifs(real_store: Store, make_settings: Callable[..., Settings]) -> Components:
    return build_components(make_settings(service={"max_check_attempts": 5}), real_store)


async def test_100_parallel_wrong_checks_use_exactly_the_limit(verifs: Components) -> None:
    service = verifs.settings.services[0]
    started = await verifs.verifications.start(service, StartParams(to=TO))
    code = sent_code(verifs, TO)
    bad = "".join("1" if c != "1" else "2" for c in code)
    results = await asyncio.gather(
        *(verifs.verifications.check(service, to=TO, code=bad) for _ in range(100))
    )
    assert not any(r.valid for r in results)
    # exactly five checks were let through to the hash; all others were refused up front
    counted = sorted(r.attempts_remaining for r in results if r.status == "pending")
    assert counted == [1, 2, 3, 4]
    assert sum(r.status == "max_attempts_reached" for r in results) == 96
    fetched = await verifs.verifications.fetch(service, started.id)
    assert fetched.check_attempts == 5
    assert fetched.status == "max_attempts_reached"
    assert (await verifs.verifications.check(service, to=TO, code=code)).valid is False


async def test_10_parallel_right_checks_approve_once(verifs: Components) -> None:
    service = verifs.settings.services[0]
    await verifs.verifications.start(service, StartParams(to=TO))
    code = sent_code(verifs, TO)
    results = await asyncio.gather(
        *(verifs.verifications.check(service, to=TO, code=code) for _ in range(10))
    )
    assert sum(r.valid for r in results) == 1
    assert {r.status for r in results} <= {"approved", "max_attempts_reached"}


async def test_parallel_starts_for_one_number_create_one_verification(
    real_store: Store, make_settings: Callable[..., Settings]
) -> None:
    # The per-number rate limit would answer most of these first (it counts requests, see
    # README "Abuse protection"); this test is about the store's own race safety.
    settings = make_settings(service={"resend_cooldown": 30, "rate_limits": {"per_number": []}})
    verifs = build_components(settings, real_store)
    service = verifs.settings.services[0]

    async def start() -> str:
        try:
            return (await verifs.verifications.start(service, StartParams(to=TO))).id
        except VerifyError as exc:
            return exc.code

    outcomes = await asyncio.gather(*(start() for _ in range(20)))
    ids = {o for o in outcomes if o.startswith("ver_")}
    assert len(ids) == 1
    assert outcomes.count("resend_too_soon") == 19
    capture = verifs.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    assert len(capture.sent_to(TO)) == 1
