"""`redis_url` forms -> the right redis-py client, and several instances on one Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import SentinelConnectionPool

from tests.conftest import API_KEY
from tests.support.helpers import open_api
from tests.support.redis_server import RedisServer
from verify_service.config import Settings
from verify_service.store import Store
from verify_service.store.connect import RedisUrlError, connect, describe, parse_multi_host


def test_single_server_and_tls() -> None:
    plain = connect("redis://:pw@127.0.0.1:6390/3")
    assert isinstance(plain, aioredis.Redis)
    assert plain.connection_pool.connection_kwargs["db"] == 3
    assert plain.connection_pool.connection_kwargs["password"] == "pw"
    tls = connect("rediss://redis.internal:6380/0?ssl_cert_reqs=required")
    assert isinstance(tls, aioredis.Redis)
    assert issubclass(tls.connection_pool.connection_class, SSLConnection)


def test_sentinel_form() -> None:
    client = connect("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/mymaster/2?sentinel_password=s")
    assert isinstance(client, aioredis.Redis)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26379]
    assert sentinels[0].connection_pool.connection_kwargs["password"] == "s"


def test_cluster_form() -> None:
    client = connect("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert isinstance(client, RedisCluster)
    parsed = parse_multi_host("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert parsed.hosts == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    assert (parsed.username, parsed.password) == ("user", "pw")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://localhost", "unknown scheme"),
        ("redis+sentinel://10.0.0.1:26379", "needs the service name"),
        ("redis+sentinel://10.0.0.1:26379/m/x", "only a db number"),
        ("redis+cluster://10.0.0.1:7000/1", "takes no path"),
        ("redis+cluster://10.0.0.1:99999", "bad port"),
        ("redis+cluster://10.0.0.1:7000,,10.0.0.2", "empty host"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(RedisUrlError, match=message):
        connect(url)


hosts = st.lists(
    st.tuples(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535)),
    min_size=1,
    max_size=5,
)


@given(hosts=hosts, password=st.text("abcXYZ019_-", min_size=1, max_size=20))
def test_multi_host_parsing_round_trips(hosts: list[tuple[str, int]], password: str) -> None:
    netloc = ",".join(f"{h}:{p}" for h, p in hosts)
    parsed = parse_multi_host(f"redis+sentinel://:{password}@{netloc}/svc/4")
    assert parsed.hosts == hosts
    assert parsed.password == password
    assert (parsed.service_name, parsed.db) == ("svc", 4)
    assert describe(f"redis+sentinel://:{password}@{netloc}/svc/4") == (
        f"redis+sentinel://:***@{netloc}/svc/4"
    )


async def test_two_instances_share_one_redis(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """What a load balancer does: start on one instance, check on another."""
    settings = make_settings(redis_url=redis_server.url)
    one, two = Store.from_url(redis_server.url), Store.from_url(redis_server.url)
    async with (
        open_api(settings, one, API_KEY) as a,
        open_api(settings, two, API_KEY) as b,
    ):
        to = "+41791230001"
        r = await a.post("/v1/verifications", {"to": to})
        assert r.status_code == 201
        code = a.last_code(to)
        r = await b.post("/v1/verifications/check", {"to": to, "code": code})
        assert r.json()["valid"] is True
        again = await a.post("/v1/verifications/check", {"to": to, "code": code})
        assert again.json()["status"] == "approved"
        assert again.json()["valid"] is False
