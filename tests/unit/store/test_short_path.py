"""The store's Redis client (store/connect.py: ShortPathRedis, ShortSend) answers every
command as redis-py's own client does: the same replies after redis-py's response
callbacks, the same errors, a value larger than the socket takes at once intact, and a
command after Redis restarted answered (the dropped connection's command is sent again
with redis-py's retries). Both ways: auto-pipelined (the default) and pooled
(`?pipelining=off`); concurrent callers: tests/unit/store/test_multiplex.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from tests.support.redis_server import start_redis
from verify_service.store.connect import ShortPathRedis, connect

pytestmark = pytest.mark.redis


WAYS = ["pipelining=on", "pipelining=off"]


@pytest.fixture(params=WAYS)
async def clients(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    server = start_redis()
    ours = connect(f"{server.url}?{request.param}")
    theirs = aioredis.Redis.from_url(server.url, decode_responses=True)
    assert isinstance(ours, ShortPathRedis)
    try:
        yield ours, theirs
    finally:
        await ours.aclose()
        await theirs.aclose()
        server.stop()


SCRIPT = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1, {'nested', 2}}"


async def replies(client: aioredis.Redis, prefix: str) -> list[Any]:
    k = f"{prefix}:"
    return [
        await client.set(k + "s", "v"),  # callback: True
        await client.set(k + "s", "w", nx=True),  # None
        await client.get(k + "s"),
        await client.hset(k + "h", mapping={"a": "1", "b": "ä"}),
        await client.hgetall(k + "h"),  # callback: a dict
        await client.exists(k + "s", k + "h", k + "none"),
        await client.expire(k + "s", 60),  # callback: bool
        await client.zadd(k + "z", {"m": 1.5}),
        await client.zrange(k + "z", 0, -1, withscores=True),  # an option: the full way
        await client.eval(SCRIPT, 1, k + "key", "arg", 41),
        await client.script_exists(await client.script_load(SCRIPT)),
        await client.delete(k + "s", k + "h", k + "z"),
    ]


async def test_the_same_replies_as_redis_py(clients: tuple[aioredis.Redis, aioredis.Redis]) -> None:
    ours, theirs = clients
    got = await replies(ours, "ours")
    want = await replies(theirs, "theirs")
    assert (got[9][0], want[9][0]) == ("ours:key", "theirs:key")
    got[9][0] = want[9][0] = "key"
    assert got == want
    assert (got[0], got[1], got[4]) == (True, None, {"a": "1", "b": "ä"})


async def test_the_same_errors_as_redis_py(clients: tuple[aioredis.Redis, aioredis.Redis]) -> None:
    ours, theirs = clients
    await ours.set("str", "v")
    errors = []
    for client in (ours, theirs):
        with pytest.raises(ResponseError) as wrong_type:
            await client.hgetall("str")
        with pytest.raises(NoScriptError) as no_script:
            await client.evalsha("0" * 40, 0)
        errors.append((str(wrong_type.value), str(no_script.value)))
    assert errors[0] == errors[1]
    assert errors[0][0].startswith("WRONGTYPE")
    assert await ours.get("str") == "v"  # the connection is still good after an error


async def test_a_value_larger_than_the_socket_takes_at_once(
    clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    ours, _ = clients
    big = "x" * (24 * 1024 * 1024)  # far above a socket's send buffer: drained
    assert await ours.set("big", big)
    assert await ours.strlen("big") == len(big)
    assert await ours.get("big") == big
    assert await ours.ping()


@pytest.mark.parametrize("way", WAYS)
async def test_a_command_after_redis_restarted_is_answered(way: str) -> None:
    server = start_redis()
    client = connect(f"{server.url}?{way}")
    try:
        assert await client.set("k", "before")
        server.stop()  # the pooled connection is now dead
        server.start()  # same port, empty
        assert await client.get("k") is None  # dropped, reconnected, sent again
        assert await client.set("k", "after")
        assert await client.get("k") == "after"
    finally:
        await client.aclose()
        server.stop()
