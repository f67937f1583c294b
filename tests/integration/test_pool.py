"""Issue 15.1: a burst larger than the Redis connection pool waits for a connection (within
the store deadline) instead of answering 503 while Redis is idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio.connection import BlockingConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import API_KEY
from tests.support.live_server import serve
from tests.support.redis_server import RedisServer
from verify_service.api.app import create_app
from verify_service.config import Settings
from verify_service.store.connect import (
    CLUSTER_MAX_CONNECTIONS,
    MAX_CONNECTIONS,
    BlockingSentinelPool,
    RedisUrlError,
    WaitingPool,
    connect,
)

pytestmark = pytest.mark.redis


def test_pool_size_comes_from_the_url_and_defaults_per_topology() -> None:
    single = connect("redis://127.0.0.1:6390/0")
    assert isinstance(single.connection_pool, BlockingConnectionPool)
    assert single.connection_pool.max_connections == MAX_CONNECTIONS
    sized = connect("redis://127.0.0.1:6390/0?max_connections=7")
    assert sized.connection_pool.max_connections == 7
    sentinel = connect("redis+sentinel://10.0.0.1/m?max_connections=9")
    assert isinstance(sentinel.connection_pool, BlockingSentinelPool)
    assert sentinel.connection_pool.max_connections == 9
    cluster = connect("redis+cluster://10.0.0.1:7000")
    assert cluster.connection_kwargs["max_connections"] == CLUSTER_MAX_CONNECTIONS
    with pytest.raises(RedisUrlError, match="max_connections"):
        connect("redis://127.0.0.1:6390/0?max_connections=0")


async def test_commands_beyond_the_pool_wait_for_a_connection(redis_server: RedisServer) -> None:
    client = connect(f"{redis_server.url}?max_connections=2")
    try:
        replies = await asyncio.gather(*(client.incr("pool-test") for _ in range(200)))
        assert sorted(replies) == list(range(1, 201))
        pool = client.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 2
    finally:
        await client.delete("pool-test")
        await client.aclose()


async def test_an_idle_connection_is_taken_at_once_and_a_busy_pool_still_waits(
    redis_server: RedisServer,
) -> None:
    # the pooled path: auto-pipelining off (with it, commands do not take pool connections)
    client = connect(f"{redis_server.url}?max_connections=1&pipelining=off")
    pool = client.connection_pool
    assert isinstance(pool, WaitingPool)
    try:
        assert await client.incr("pool-fast") == 1  # the idle connection, the short way
        held = await pool.get_connection()
        waiter = asyncio.create_task(client.incr("pool-fast"))
        await asyncio.sleep(0.1)
        assert not waiter.done()  # every connection busy: it waits
        await pool.release(held)
        assert await waiter == 2
        pool.timeout = 0.2
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await client.incr("pool-fast")
        await pool.release(held)
        assert len(pool._available_connections) + len(pool._in_use_connections) == 1
    finally:
        await client.delete("pool-fast")
        await client.aclose()


@pytest.mark.slow
async def test_400_concurrent_requests_on_one_worker_all_succeed(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """The issue's burst on one uvicorn worker against a real Redis, with a pool far
    smaller than the burst: 300 reads and 100 wrong checks at once, every answer a 200."""
    settings = make_settings(redis_url=f"{redis_server.url}?max_connections=8")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with serve(create_app(settings)) as base:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:
            r = await http.post("/v1/verifications", json={"to": "+41791230400"})
            assert r.status_code == 201, r.text
            vid = r.json()["id"]
            reads = [http.get(f"/v1/verifications/{vid}", timeout=30) for _ in range(300)]
            checks = [
                http.post(
                    "/v1/verifications/check",
                    json={"verification_id": vid, "code": "000000"},
                    timeout=30,
                )
                for _ in range(100)
            ]
            answers = await asyncio.gather(*reads, *checks)
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 400, {s: statuses.count(s) for s in set(statuses)}
