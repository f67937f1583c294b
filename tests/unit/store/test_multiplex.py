"""Auto-pipelining (store/multiplex.py, through store/connect.py's client): the commands of
one event-loop iteration reach Redis in one write, each caller gets exactly its own reply
or error as redis-py's client would give it, a cancelled caller disturbs nobody, and a
lost or silent Redis fails the callers owed a reply (the client then recovers), never
hangs them."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from fakeredis import TcpFakeServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, OutOfMemoryError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.support.redis_server import BACKENDS, RedisServer, free_port, start_redis
from verify_service.store import multiplex
from verify_service.store.connect import (
    PACKER,
    RedisUrlError,
    ShortPathRedis,
    connect,
)
from verify_service.store.multiplex import Multiplexer
from verify_service.store.verifications import deadline_for, store_call

SLOW = "local t = redis.call('TIME') local u = t[1] * 1e6 + t[2] " + (
    "repeat local n = redis.call('TIME') until n[1] * 1e6 + n[2] - u >= tonumber(ARGV[1]) "
    "return 'slept'"
)  # busy for ARGV[1] µs: the commands queued behind it are in flight meanwhile


@pytest.fixture(scope="module")
def fake_tcp() -> Iterator[str]:
    """fakeredis behind a real socket (its TCP server), for the client to multiplex over."""
    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=BACKENDS)
async def pair(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[ShortPathRedis, aioredis.Redis]]:
    """Our client (auto-pipelined) and redis-py's, on one server of each backend."""
    if request.param == "fakeredis":
        url = request.getfixturevalue("fake_tcp")
    else:
        url = request.getfixturevalue("redis_server").url
    ours = connect(url)
    theirs = aioredis.Redis.from_url(url, decode_responses=True)
    assert isinstance(ours, ShortPathRedis)
    assert ours.multiplexer is not None
    await theirs.flushdb()
    try:
        yield ours, theirs
    finally:
        await ours.aclose()
        await theirs.aclose()


def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the writes on multiplexed connections, from now on."""
    seen: list[int] = []
    original = asyncio.StreamWriter.write

    def spy(self: asyncio.StreamWriter, data: Any) -> None:
        if getattr(self, "multiplexed", False):
            seen.append(len(data))
        original(self, data)

    monkeypatch.setattr(asyncio.StreamWriter, "write", spy)
    return seen


async def mark_multiplexed(client: ShortPathRedis) -> None:
    await client.ping()  # connected
    assert client.multiplexer is not None
    assert client.multiplexer.link is not None
    writer = client.multiplexer.link.conn._writer
    writer.multiplexed = True  # type: ignore[union-attr]


async def test_one_iteration_s_commands_go_out_in_one_write(
    pair: tuple[ShortPathRedis, aioredis.Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs = pair
    await mark_multiplexed(ours)
    sizes = writes(monkeypatch)
    replies = await asyncio.gather(
        *(ours.set(f"k{i}", f"v{i}") for i in range(50)),
        *(ours.get(f"k{i}") for i in range(50)),
        *(ours.incr("n") for _ in range(50)),
    )
    assert len(sizes) == 1  # one write for the 150 commands
    assert replies == [True] * 50 + [f"v{i}" for i in range(50)] + list(range(1, 51))
    assert await theirs.get("n") == "50"


@pytest.mark.redis
async def test_redis_wakes_up_once_for_a_batch(redis_server: RedisServer) -> None:
    ours = connect(redis_server.url)
    plain = aioredis.Redis.from_url(redis_server.url)
    try:
        await ours.ping()
        before = (await plain.info("stats"))["total_reads_processed"]
        replies = await asyncio.gather(*(ours.incr(f"w{i % 7}") for i in range(70)))
        after = (await plain.info("stats"))["total_reads_processed"]
        assert after - before == 2  # the batch, and the second INFO
        assert sorted(replies) == sorted(list(range(1, 11)) * 7)
        await plain.flushdb()
    finally:
        await ours.aclose()
        await plain.aclose()


SCRIPT = "return {ARGV[1], tonumber(ARGV[2]) + 1, {'nested', 2}}"
FAILING = "return redis.call('INCR', KEYS[1])"  # a script error on a string value

op_st = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 3), st.text(max_size=20)),
    st.tuples(st.just("big"), st.integers(0, 3), st.integers(60_000, 300_000)),
    st.tuples(st.just("get"), st.integers(0, 3)),
    st.tuples(st.just("incr"), st.integers(0, 3)),
    st.tuples(st.just("hset"), st.integers(0, 3), st.text(max_size=5)),
    st.tuples(st.just("hgetall"), st.integers(0, 3)),
    st.tuples(st.just("eval"), st.text(max_size=10), st.integers(-100, 100)),
    st.tuples(st.just("failing"), st.integers(0, 3)),
    st.tuples(st.just("noscript")),
)


async def run(client: aioredis.Redis, op: tuple[Any, ...], prefix: str) -> tuple[Any, ...]:
    """One command of `op`; ("ok", reply) or ("error", class, message)."""
    key = f"{prefix}:{op[1]}" if len(op) > 1 else ""
    try:
        match op[0]:
            case "set":
                reply = await client.set(key, op[2])
            case "big":
                reply = await client.set(key, "x" * op[2])
            case "get":
                reply = await client.get(key)
            case "incr":
                reply = await client.incr(key)
            case "hset":
                reply = await client.hset(key, "f", op[2])
            case "hgetall":
                reply = await client.hgetall(key)
            case "eval":
                reply = await client.eval(SCRIPT, 0, op[1], op[2])
            case "failing":
                reply = await client.eval(FAILING, 1, key)
            case _:
                reply = await client.evalsha("0" * 40, 0)
    except ResponseError as exc:
        message = str(exc).replace(prefix, "P")
        return ("error", type(exc), message.partition(" script:")[0])
    return ("ok", reply)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(op_st, min_size=1, max_size=40))
async def test_concurrent_callers_get_what_redis_py_gives_one_by_one(
    pair: tuple[ShortPathRedis, aioredis.Redis], ops: list[tuple[Any, ...]]
) -> None:
    """Values, error replies (WRONGTYPE, script errors, NOSCRIPT), replies larger than one
    socket read, all in one batch: each caller its own, as redis-py's client answers the
    same commands sent one at a time."""
    ours, theirs = pair
    got = await asyncio.gather(*(run(ours, op, "ours") for op in ops))
    want = [await run(theirs, op, "theirs") for op in ops]
    assert got == want
    assert await ours.ping()  # in step after all of it


@pytest.mark.redis
async def test_an_out_of_memory_reply_is_its_caller_s_alone() -> None:
    server = start_redis("--maxmemory", "1", "--maxmemory-policy", "noeviction")
    ours = connect(server.url)
    try:
        await ours.ping()
        got = await asyncio.gather(
            ours.exists("a"), ours.set("a", "b"), ours.get("a"), return_exceptions=True
        )
        assert got[0] == 0
        assert got[2] is None
        assert isinstance(got[1], OutOfMemoryError)
    finally:
        await ours.aclose()
        server.stop()


@pytest.mark.redis
async def test_a_cancelled_caller_disturbs_nobody(redis_server: RedisServer) -> None:
    ours = connect(redis_server.url)
    try:
        slow = asyncio.create_task(ours.eval(SLOW, 0, 200_000))
        doomed = asyncio.create_task(ours.incr("once"))
        after = asyncio.create_task(ours.set("after", "yes"))
        await asyncio.sleep(0.05)  # all three sent; Redis is in the slow script
        doomed.cancel()  # its deadline: the reply is read and dropped
        assert await slow == "slept"
        assert await after is True
        assert doomed.cancelled()
        assert await ours.get("once") == "1"  # ran once: not lost, not sent again
        # a caller cancelled before its command went out: it is never sent
        never = asyncio.create_task(ours.incr("never"))
        await asyncio.sleep(0)  # queued, not yet written
        never.cancel()
        assert await ours.get("after") == "yes"
        assert await ours.exists("never") == 0
        # under store_call's deadline, as the store cancels
        with pytest.raises(Exception, match="did not answer"), store_call(0.05):
            await ours.eval(SLOW, 0, 200_000)
        assert await ours.incr("once") == 2
    finally:
        await ours.flushdb()
        await ours.aclose()


@pytest.mark.redis
async def test_redis_killed_mid_batch_fails_its_callers_and_the_client_recovers() -> None:
    server = start_redis()
    mux = Multiplexer(lambda: connect(server.url).connection_pool.make_connection(), 2.0)
    ours = connect(server.url)
    try:
        await ours.ping()
        slow = asyncio.create_task(mux.execute(PACKER.pack_command("EVAL", SLOW, 0, 500_000)))
        queued = [asyncio.create_task(mux.execute(PACKER.pack_command("PING"))) for _ in range(5)]
        await asyncio.sleep(0.1)
        assert server.process is not None
        server.process.kill()  # mid-batch
        server.process.wait()
        for task in (slow, *queued):
            with pytest.raises(RedisConnectionError):
                await task
        server.start()  # same port, empty
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"  # reconnected
        # the client: the lost command is sent again the full way, as before
        assert await ours.set("k", "after") is True
        assert await ours.get("k") == "after"
    finally:
        await mux.aclose()
        await ours.aclose()
        server.stop()


@pytest.mark.redis
async def test_a_command_lost_with_the_connection_is_sent_again_the_full_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_redis()
    ours = connect(server.url)
    full_way: list[tuple[Any, ...]] = []
    original = aioredis.Redis.execute_command

    async def spy(self: aioredis.Redis, *args: Any, **options: Any) -> Any:
        full_way.append(args)
        return await original(self, *args, **options)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aioredis.Redis, "execute_command", spy)
    try:
        await ours.ping()
        slow = asyncio.create_task(ours.eval(SLOW, 0, 500_000))
        lost = asyncio.create_task(ours.incr("k"))
        await asyncio.sleep(0.1)  # both in flight, Redis in the script
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        server.start()  # same port, empty: redis-py's retries (backoff) reach it
        got = await asyncio.gather(slow, lost, return_exceptions=True)
        assert ("INCRBY", "k", 1) in full_way  # sent again the pooled way, with retries
        assert got[1] == 1 or isinstance(got[1], RedisConnectionError)
        assert await ours.incr("after") == 1  # and the multiplexed link is back
    finally:
        await ours.aclose()
        server.stop()


@pytest.mark.redis
async def test_a_silent_redis_fails_its_callers_after_socket_timeout() -> None:
    server = start_redis()
    url = f"{server.url}?socket_timeout=0.5"
    mux = Multiplexer(lambda: connect(url).connection_pool.make_connection(), 0.5)
    ours = connect(url)
    assert server.process is not None
    try:
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"
        await ours.ping()
        os.kill(server.process.pid, signal.SIGSTOP)  # it stops answering
        started = time.monotonic()
        calls = [mux.execute(PACKER.pack_command("INCR", "k")) for _ in range(3)]
        got = await asyncio.gather(*calls, return_exceptions=True)
        waited = time.monotonic() - started
        assert all(isinstance(g, RedisTimeoutError) for g in got), got
        assert 0.45 <= waited < 1.0
        # the client: bounded by the store deadline, never hung
        with pytest.raises(Exception, match="did not answer"), store_call(deadline_for(ours)):
            await ours.get("k")
        os.kill(server.process.pid, signal.SIGCONT)
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"
        assert await ours.incr("k") >= 1  # recovered
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        await mux.aclose()
        await ours.aclose()
        server.stop()


@pytest.mark.redis
async def test_debug_sleep_elsewhere_fails_the_owed_callers_then_recovers() -> None:
    server = start_redis("--enable-debug-command", "yes")
    url = f"{server.url}?socket_timeout=0.3"
    mux = Multiplexer(lambda: connect(url).connection_pool.make_connection(), 0.3)
    plain = aioredis.Redis.from_url(server.url)
    try:
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"
        sleeper = asyncio.create_task(plain.execute_command("DEBUG", "SLEEP", "1"))
        await asyncio.sleep(0.05)
        with pytest.raises(RedisTimeoutError):
            await mux.execute(PACKER.pack_command("PING"))
        await sleeper
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"
    finally:
        await mux.aclose()
        await plain.aclose()
        server.stop()


@pytest.mark.redis
async def test_a_command_sent_behind_an_owed_one_has_its_own_socket_timeout() -> None:
    """Redis busy 0.9 s (a script elsewhere), socket_timeout 0.6 s: a GET owed since the
    start is overdue at 0.65 s, an INCR sent at 0.5 s is not (due at 1.1 s) and is answered
    at 0.9 s, run once, as on a pooled connection. Dropping the link with the GET failed the
    INCR too; Redis still ran the INCR it had buffered, and the resend ran it again."""
    server = start_redis()
    ours = connect(f"{server.url}?socket_timeout=0.6")
    plain = aioredis.Redis.from_url(server.url)
    try:
        await ours.ping()
        busy = asyncio.create_task(plain.eval(SLOW, 0, 900_000))
        await asyncio.sleep(0.05)
        early = asyncio.create_task(ours.get("x"))  # overdue at 0.65 s: sent again
        await asyncio.sleep(0.45)
        assert await ours.incr("n") == 1
        assert await busy == b"slept"
        assert await asyncio.gather(early, return_exceptions=True) == [None]
        assert await plain.get("n") == b"1"  # once
    finally:
        await ours.aclose()
        await plain.aclose()
        server.stop()


@pytest.mark.redis
async def test_a_stopped_redis_under_steady_traffic_loses_the_link_all_the_same() -> None:
    """Callers keep coming to a SIGSTOPped Redis, one every 0.05 s (socket_timeout 0.3 s):
    each fails after its own timeout, and the connection, never without a caller still
    in time, is dropped after GONE timeouts without a byte; what is owed stays bounded."""
    server = start_redis()
    mux = Multiplexer(lambda: connect(server.url).connection_pool.make_connection(), 0.3)
    assert server.process is not None
    try:
        assert await mux.execute(PACKER.pack_command("PING")) == "PONG"
        link = mux.link
        assert link is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        calls = []
        while not link.dead and time.monotonic() - started < 3:
            calls.append(asyncio.create_task(mux.execute(PACKER.pack_command("PING"))))
            await asyncio.sleep(0.05)
        assert link.dead
        assert time.monotonic() - started < multiplex.GONE * 0.3 + 0.3
        got = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(g, RedisTimeoutError) for g in got), got
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        await mux.aclose()
        server.stop()


@pytest.mark.redis
async def test_auth_select_and_a_unix_socket() -> None:
    sock = Path(tempfile.mkdtemp(prefix="vs-")) / "redis.sock"  # short: a socket path's limit
    server = start_redis("--unixsocket", str(sock))
    setup = aioredis.Redis(port=server.port)
    await setup.config_set("requirepass", "s3cret")  # start_redis's readiness PING has none
    await setup.aclose()
    tcp = connect(f"redis://:s3cret@127.0.0.1:{server.port}/3")
    local = connect(f"unix://:s3cret@{sock}?db=5")
    plain = aioredis.Redis(port=server.port, password="s3cret", decode_responses=True)
    try:
        for client, db in ((tcp, 3), (local, 5)):
            assert isinstance(client, ShortPathRedis)
            assert client.multiplexer is not None
            got = await asyncio.gather(*(client.incr(f"db{db}") for _ in range(20)))
            assert sorted(got) == list(range(1, 21))
            await plain.execute_command("SELECT", db)
            assert await plain.get(f"db{db}") == "20"
        assert not tcp.connection_pool._available_connections  # not the pool's way
        with pytest.raises(Exception, match=r"authentication|AUTH|NOAUTH|WRONGPASS|password"):
            await connect(f"redis://:wrong@127.0.0.1:{server.port}/0").ping()
    finally:
        for c in (tcp, local, plain):
            await c.aclose()
        server.stop()


@pytest.mark.redis
async def test_pipelines_and_options_keep_the_pooled_way(redis_server: RedisServer) -> None:
    ours = connect(redis_server.url)
    assert isinstance(ours, ShortPathRedis)
    try:
        await ours.zadd("z", {"m": 1.5})
        assert not ours.connection_pool._available_connections
        assert await ours.zrange("z", 0, -1, withscores=True) == [("m", 1.5)]  # an option
        async with ours.pipeline(transaction=True) as pipe:
            pipe.incr("p").incr("p")
            assert await pipe.execute() == [1, 2]
        assert ours.connection_pool._available_connections  # the pool served those
        await ours.delete("z", "p")
    finally:
        await ours.aclose()


@pytest.mark.redis
async def test_client_reply_skip_never_hands_a_reply_to_another_caller(
    redis_server: RedisServer,
) -> None:
    """redis-py names CLIENT's subcommands "CLIENT REPLY", "CLIENT SETNAME"...: they too
    change their connection, so they take a pooled one. CLIENT REPLY SKIP on the shared
    connection would leave the next reply unsent and hand every later one to the caller
    before it."""
    ours = connect(redis_server.url)
    try:
        await ours.mset({"a": "A", "b": "B", "x": "X"})
        # no reply to it either way (its pooled connection then times out: redis-py's lot)
        skip = asyncio.create_task(ours.client_reply("SKIP"))
        got = await asyncio.gather(ours.get("a"), ours.get("b"), ours.get("x"))
        assert got == ["A", "B", "X"]
        skip.cancel()
    finally:
        await ours.delete("a", "b", "x")
        await ours.aclose()


async def test_a_command_named_in_lower_case_keeps_the_shared_connection_s_db(
    pair: tuple[ShortPathRedis, aioredis.Redis],
) -> None:
    """Redis reads command names in any case: `execute_command("select", 1)` is a SELECT,
    and on the shared connection it would move every caller to db 1."""
    ours, theirs = pair
    await theirs.set("k", "db0")
    await ours.execute_command("select", 1)
    assert await ours.get("k") == "db0"
    await theirs.delete("k")


async def test_a_reply_that_is_not_text_is_its_caller_s_alone(
    pair: tuple[ShortPathRedis, aioredis.Redis],
) -> None:
    """A value that is not UTF-8 (written by another client) fails its reader's decoding,
    as redis-py's does; hiredis has consumed that reply, so the callers after it get
    theirs and the connection stays (it used to be dropped, failing them all)."""
    ours, theirs = pair
    await theirs.execute_command("SET", "bin", b"\xff\xfe")
    await theirs.set("ok", "fine")
    await ours.ping()
    assert ours.multiplexer is not None
    link = ours.multiplexer.link
    got = await asyncio.gather(
        ours.get("ok"), ours.get("bin"), ours.incr("n"), ours.get("ok"), return_exceptions=True
    )
    assert got[0] == "fine"
    assert got[2:] == [1, "fine"]
    assert isinstance(got[1], UnicodeDecodeError)
    assert ours.multiplexer.link is link  # in step: kept
    assert link is not None
    assert not link.dead
    await theirs.delete("bin", "ok", "n")


@pytest.mark.redis
async def test_a_link_that_fails_after_connecting_fails_its_callers_loudly(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the link does between redis-py's connect and taking the socket leans on
    redis-py's and hiredis's internals; if an upgrade breaks it, the callers get the error
    at once (and the next command tries again), not a wait for ever on a link that is
    neither ready nor dead."""

    def broken(**options: Any) -> None:
        raise TypeError("Reader() got an unexpected keyword argument")

    monkeypatch.setattr(multiplex, "hiredis", SimpleNamespace(Reader=broken))  # its alone
    ours = connect(redis_server.url)
    try:
        for _ in range(2):
            with pytest.raises(TypeError, match="unexpected keyword"):
                await asyncio.wait_for(ours.ping(), 5)
        monkeypatch.undo()
        assert await asyncio.wait_for(ours.ping(), 5) is True
    finally:
        await ours.aclose()


def test_the_redis_py_internals_the_link_uses_are_there() -> None:
    """The link's failure paths (a reset, the watchdog, die) call these from transport
    callbacks, where an AttributeError after a redis-py upgrade would leave callers
    waiting, not fail a test: checked here, for each connection class connect() makes."""
    for url in ("redis://h:1/0", "rediss://h:1/0", "unix:///tmp/r.sock"):
        client = connect(url)
        assert isinstance(client, ShortPathRedis)
        assert client.multiplexer is not None
        conn = client.multiplexer.make_connection()
        assert isinstance(conn._host_error(), str)
        assert callable(conn._close)
        assert conn._writer is None  # unconnected; set by connect()
        assert isinstance(conn._parser.parse_error("NOSCRIPT No matching script"), NoScriptError)


@pytest.mark.redis
async def test_a_resp3_push_is_nobody_s_reply(redis_server: RedisServer) -> None:
    """`?protocol=3` (a redis-py URL option): Redis may push out-of-band messages on the
    shared connection (maintenance notifications, which redis-py turns on by default over
    RESP3; tracking invalidations redirected to it). A push answers no command: handed to
    the oldest caller, it would shift every later reply onto the wrong caller."""
    ours = connect(f"{redis_server.url}?protocol=3")
    other = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    assert isinstance(ours, ShortPathRedis)
    assert ours.multiplexer is not None
    try:
        await ours.mset({"a": "A", "b": "B"})
        link_id = await ours.multiplexer.execute(PACKER.pack_command("CLIENT", "ID"))
        await other.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", link_id)
        await other.get("a")  # tracked: the next write of a pushes an invalidation
        link = ours.multiplexer.link  # to the shared connection, amid these replies:
        got = await asyncio.gather(ours.set("a", "A2"), ours.get("b"), ours.incr("n"))
        assert got == [True, "B", 1]
        assert ours.multiplexer.link is link  # and the link is not dropped for it
    finally:
        await ours.delete("a", "b", "n")
        await ours.aclose()
        await other.aclose()


def test_resp3_keeps_the_pool_where_hiredis_cannot_tell_a_push(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multiplex, "TELLS_PUSHES", False)  # hiredis < 3.2
    resp3 = connect("redis://127.0.0.1:6390/0?protocol=3")
    resp2 = connect("redis://127.0.0.1:6390/0")
    assert isinstance(resp3, ShortPathRedis)
    assert isinstance(resp2, ShortPathRedis)
    assert resp3.multiplexer is None
    assert resp2.multiplexer is not None


@pytest.mark.redis
def test_a_client_used_from_one_event_loop_then_another(redis_server: RedisServer) -> None:
    """Tests and tools that run asyncio.run twice: the second loop gets a link of its own."""
    ours = connect(redis_server.url)
    assert asyncio.run(ours.incr("loops")) == 1
    assert asyncio.run(ours.incr("loops")) == 2
    asyncio.run(ours.delete("loops"))
    asyncio.run(ours.aclose())


def test_pipelining_is_a_url_option() -> None:
    on = connect("redis://127.0.0.1:6390/0")
    off = connect("redis://127.0.0.1:6390/0?pipelining=off&max_connections=7")
    explicit = connect("unix:///tmp/r.sock?db=2&pipelining=on")
    assert isinstance(on, ShortPathRedis)
    assert on.multiplexer is not None
    assert isinstance(off, ShortPathRedis)
    assert off.multiplexer is None
    assert off.connection_pool.max_connections == 7
    assert isinstance(explicit, ShortPathRedis)
    assert explicit.multiplexer is not None
    assert "pipelining" not in on.connection_pool.connection_kwargs
    assert "pipelining" not in explicit.connection_pool.connection_kwargs
    connect("redis+sentinel://10.0.0.1/m?pipelining=off")  # checked, not used
    for url in (
        "redis://127.0.0.1:6390/0?pipelining=yes",
        "rediss://127.0.0.1:6390/0?pipelining=true",
        "redis+cluster://10.0.0.1:7000?pipelining=0",
    ):
        with pytest.raises(RedisUrlError, match="pipelining is on or off"):
            connect(url)


@pytest.mark.redis
async def test_pipelining_off_takes_a_pooled_connection(redis_server: RedisServer) -> None:
    off = connect(f"{redis_server.url}?pipelining=off")
    try:
        assert await off.set("off", "v") is True
        assert len(off.connection_pool._available_connections) == 1
    finally:
        await off.delete("off")
        await off.aclose()
