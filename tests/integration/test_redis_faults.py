"""Fault injection on a real `redis-server`: killed under load, hung (SIGSTOP), restarted.

What a user must see: only 503 `store_unavailable` while Redis is gone (never a 500, never
a request that hangs past the client's socket timeout), `/health/ready` turning 503, the
service recovering by itself when Redis returns, and, with AOF (`appendfsync always`),
every verification that was acknowledged with 201 still approvable after the restart."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, config
from tests.support.helpers import Api
from tests.support.live_server import serve
from tests.support.redis_server import RedisServer, start_redis
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping
from verify_service.store.verifications import STORE_DEADLINE

pytestmark = pytest.mark.redis  # kills, stops and restarts its own redis-server

# The store's own deadline per call, plus scheduling slack on a loaded 2-core machine.
MAX_FAULT_LATENCY = STORE_DEADLINE + 2.0
AOF = ("--appendonly", "yes", "--appendfsync", "always")
FAULTS: Counter[str] = Counter()


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    server = start_redis(*AOF)
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)  # a stopped server cannot terminate
    server.stop()


@pytest.fixture
async def api_on(aof_redis: RedisServer) -> AsyncIterator[Api]:
    """The app as deployed: real uvicorn, Redis by URL, concurrent clients over loopback."""
    settings = settings_from_mapping(
        config(
            redis_url=aof_redis.url,
            service={"max_check_attempts": 100, "max_send_attempts": 100},
        ),
        environ={},
    )
    app = create_app(settings)
    with serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield Api(client, app.state.components, API_KEY)  # type: ignore[arg-type]


def kill(server: RedisServer) -> None:
    assert server.process is not None
    server.process.kill()  # SIGKILL: a crash, not a clean shutdown
    server.process.wait()
    server.process = None
    FAULTS["redis killed"] += 1


def restart(server: RedisServer) -> None:
    server.start()  # same port, same directory: the AOF is replayed
    FAULTS["redis restarted"] += 1


async def wait_ready(api: Api, deadline_s: float = 15.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        r = await api.client.get("/health/ready")
        if r.status_code == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError("the service did not recover after Redis came back")


def number(i: int) -> str:
    return f"+4179123{4000 + i:04d}"


async def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


def assert_only_503_store_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code in (200, 201, 503), response.text
    if response.status_code == 503:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "store_unavailable"
    assert elapsed < MAX_FAULT_LATENCY, f"{elapsed:.1f}s: a request hung past the timeout"


async def test_redis_killed_under_load(api_on: Api, aof_redis: RedisServer) -> None:
    api = api_on
    acknowledged: dict[str, str] = {}  # number -> code of every verification answered 201

    for i in range(20):
        r = await api.post("/v1/verifications", {"to": number(i)})
        assert r.status_code == 201
        acknowledged[number(i)] = api.last_code(number(i))

    statuses: Counter[int] = Counter()
    killed = asyncio.Event()

    async def worker(w: int) -> None:
        for j in range(12):
            i = 100 + w * 100 + j
            if j == 4 and w == 0:
                kill(aof_redis)
                killed.set()
            r, elapsed = await timed(api.post("/v1/verifications", {"to": number(i)}))
            assert_only_503_store_unavailable(r, elapsed)
            statuses[r.status_code] += 1
            if r.status_code == 201:
                acknowledged[number(i)] = api.last_code(number(i))
            wrong = {"to": number(j % 20), "code": "0000"}  # a length no code has
            r, elapsed = await timed(api.post("/v1/verifications/check", wrong))
            assert_only_503_store_unavailable(r, elapsed)
            statuses[r.status_code] += 1

    await asyncio.gather(*(worker(w) for w in range(4)))
    assert killed.is_set()
    assert statuses[503] > 0, "Redis was killed but no request noticed"
    assert statuses[500] == 0

    r = await api.client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["code"] == "store_unavailable"

    restart(aof_redis)
    await wait_ready(api)

    lost = []
    for to, code in acknowledged.items():
        r = await api.post("/v1/verifications/check", {"to": to, "code": code})
        if not (r.status_code == 200 and r.json()["valid"] is True):
            lost.append((to, r.status_code, r.text))
    print(
        f"\nredis killed under load: {dict(statuses)}; acknowledged {len(acknowledged)}, "
        f"lost {len(lost)}; faults so far {dict(FAULTS)}"
    )
    assert lost == []


async def test_hung_redis_answers_503_within_the_socket_timeout(
    api_on: Api, aof_redis: RedisServer
) -> None:
    api = api_on
    r = await api.post("/v1/verifications", {"to": number(1)})
    assert r.status_code == 201
    code = api.last_code(number(1))
    assert aof_redis.process is not None
    os.kill(aof_redis.process.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
    FAULTS["redis hung"] += 1
    try:
        results = await asyncio.gather(
            *(
                timed(api.post("/v1/verifications/check", {"to": number(1), "code": "0000"}))
                for _ in range(5)
            ),
            timed(api.post("/v1/verifications", {"to": number(2)})),
            timed(api.client.get("/health/ready")),
        )
        for response, elapsed in results:
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "store_unavailable"
            assert elapsed < MAX_FAULT_LATENCY
    finally:
        os.kill(aof_redis.process.pid, signal.SIGCONT)
    await wait_ready(api)
    r = await api.post("/v1/verifications/check", {"to": number(1), "code": code})
    assert r.json()["valid"] is True


async def test_pending_verifications_survive_a_clean_restart(
    api_on: Api, aof_redis: RedisServer
) -> None:
    api = api_on
    codes = {}
    for i in range(10):
        r = await api.post("/v1/verifications", {"to": number(i)})
        assert r.status_code == 201
        codes[number(i)] = (r.json()["id"], api.last_code(number(i)))
    aof_redis.stop()
    FAULTS["redis stopped"] += 1
    r = await api.post("/v1/verifications/check", {"to": number(0), "code": "0000"})
    assert r.status_code == 503
    restart(aof_redis)
    await wait_ready(api)
    for _to, (verification_id, code) in codes.items():
        r = await api.post(
            "/v1/verifications/check", {"verification_id": verification_id, "code": code}
        )
        assert r.json() == {
            "id": verification_id,
            "status": "approved",
            "valid": True,
            "attempts_remaining": 0,
        }
