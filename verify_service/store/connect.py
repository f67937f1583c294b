"""`redis_url` -> a redis-py asyncio client. The forms (README "Operations"):

    redis://[[user]:password@]host[:port][/db]          one server
    rediss://[[user]:password@]host[:port][/db]         one server over TLS
    unix:///path/to/redis.sock[?db=N]                   one server, local socket
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]
    rediss+sentinel://…                                 the same, TLS to Redis and sentinels
    redis+cluster://[[user]:password@]host[:port][,host[:port]...]
    rediss+cluster://…                                  the same over TLS

Sentinel: the hosts are the sentinels (default port 26379), `service_name` is the
monitored primary's name (`sentinel monitor <service_name> …`); the password is the data
nodes'. Sentinels with their own password take `?sentinel_password=…` (and
`sentinel_username=…`). Cluster: the hosts are any nodes (seeds, default port 6379); the
rest of the topology is discovered; there is only db 0. Query parameters common to all:
`socket_timeout`, `socket_connect_timeout` (seconds), `max_connections` (see below), and
for TLS `ssl_cert_reqs` (`required` | `optional` | `none`) and `ssl_ca_certs` (a CA file).

Connections: each process keeps at most `max_connections` (default MAX_CONNECTIONS) to
Redis. On one server and on Sentinel the pool is a blocking one: a request that finds every
connection busy waits for one, at most the store deadline (store/verifications.py
`deadline_for`), instead of failing at once; redis-py's default pool refuses the 101st
concurrent command with "Too many connections", which a burst turned into 503s while Redis
was idle. Cluster: redis-py's cluster client has no blocking pool; `max_connections` is its
limit per node, and a command beyond it fails (503) rather than waits, so its default is
larger.

Auto-pipelining (one server: redis://, rediss://, unix://): the commands a process issues
in one event-loop iteration go out in one write on one shared connection, beside the pool
(store/multiplex.py); fewer wake-ups for Redis and fewer syscalls for the worker under
load, and less Python CPU per command even alone (docs/performance.md, "Wave 7").
`?pipelining=off` turns it off (every command on a pooled connection, as before it
existed); `on` is the default; any other value is a RedisUrlError. Sentinel and Cluster
clients never auto-pipeline (the value is only checked there). Transactions, `pipeline()`
and commands that hold their connection (blocking pops, SELECT, ...) always take a pooled
connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

from verify_service.store import multiplex
from verify_service.store.multiplex import Multiplexer, Unsent

RedisClient = aioredis.Redis | RedisCluster

SINGLE_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_PORT = 6379

# Short timeouts: a request waits on Redis at most a few seconds and then gets a 503 it
# can retry, rather than hanging. A few quick retries ride over a failover (a sentinel
# promotes a replica in about a second) or a cluster slot move.
SOCKET_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
RETRIES = 3
# Connections per process (per node on a Cluster): enough for every request in flight of a
# busy worker; more wait for a free one. Redis's own default limit is 10,000 clients.
MAX_CONNECTIONS = 100
CLUSTER_MAX_CONNECTIONS = 1000
PIPELINING = "pipelining"  # the redis_url query parameter: on (default) | off


def pool_wait(socket_timeout: float) -> float:
    """Seconds a command may wait for a free connection: the store deadline of that socket
    timeout (the caller's deadline cuts it shorter anyway)."""
    return 2 * socket_timeout + 1.0


class WaitingPool(BlockingConnectionPool):
    """BlockingConnectionPool that hands out and takes back an idle connection the short
    way: when one is idle and no task is inside the pool's locks or waiting for a
    connection, a list pop (then redis-py's check that the connection is connected and
    has no stray data) and a list append, with no await in between that another task could
    interleave; only a command that finds every connection busy waits, as
    BlockingConnectionPool's do, and a release while a task waits notifies it. The locks,
    the timer and redis-py's per-call observability records (connection counts, pool
    names, a release event) cost ~30-50 µs per command on the 2-core development machine,
    ~10 commands per verification flow (docs/performance.md)."""

    _waiting = 0  # tasks in the waiting path (BlockingConnectionPool's get_connection)

    def _quiet(self) -> bool:
        return not (self._waiting or self._condition.locked() or self._lock.locked())

    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        if self._available_connections and self._quiet():
            connection = self._available_connections.pop()
            self._in_use_connections.add(connection)
            try:
                await self.ensure_connection(connection)  # connected, nothing unread
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self._waiting += 1
        try:
            return await super().get_connection()  # type: ignore[no-untyped-call]
        finally:
            self._waiting -= 1

    async def release(self, connection: Any) -> None:
        if self._quiet() and not connection.should_reconnect():
            self._in_use_connections.remove(connection)
            self._available_connections.append(connection)
            return
        await super().release(connection)


# Commands that change or hold their connection's state (a db, a transaction, a
# subscription) or block it: never on the shared multiplexed connection.
CONNECTION_BOUND = frozenset(
    {
        "AUTH", "HELLO", "SELECT", "RESET", "QUIT", "CLIENT", "MULTI", "EXEC", "DISCARD",
        "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "BLPOP",
        "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "XREAD",
        "XREADGROUP", "WAIT", "WAITAOF", "DEBUG", "UNSUBSCRIBE", "PUNSUBSCRIBE",
        "SUNSUBSCRIBE", "READONLY", "READWRITE", "ASKING", "SYNC", "PSYNC", "REPLCONF",
    }
)  # fmt: skip
_bound: dict[str | bytes, bool] = {}  # a command name as given -> connection-bound?


def connection_bound(name: str | bytes) -> bool:
    """Whether `name` (args[0]: "GET", b"get", "CLIENT REPLY"...) is CONNECTION_BOUND.
    Redis reads names in any case, and redis-py names subcommands with their command
    ("CLIENT REPLY": pack_command splits it); a CLIENT REPLY SKIP on the shared
    connection would hand each later reply to the caller before it. Memoised: a few
    dozen names, ~50 ns a command."""
    known = _bound.get(name)
    if known is None:
        word = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        known = word.split(maxsplit=1)[0].upper() in CONNECTION_BOUND if word.strip() else True
        if len(_bound) < 4096:  # names come from code, not input; bounded all the same
            _bound[name] = known
    return known


class ShortPathRedis(aioredis.Redis):
    """redis-py's asyncio client whose commands take the short way. With auto-pipelining
    (`multiplexer` set; `?pipelining=on`, the default) a command goes out on the one
    shared connection with the others of its event-loop iteration (store/multiplex.py);
    without it: a pooled connection, send, read, release. redis-py wraps each command in
    its retry helper (a closure and a lambda per call) and in observability hooks
    (operation duration, error counts) that this service does not use; together ~10-20 µs
    per command, ~10 a verification flow (docs/performance.md). A command that fails on
    the connection after it may have gone out (ConnectionError, TimeoutError: a restart,
    a failover, a Redis silent for socket_timeout) drops that connection and is sent again
    the full way, with redis-py's retries and backoff (RETRIES); a failure to connect is
    the caller's at once, as a pooled connection's is, and so is every other error (a
    script error, NOSCRIPT, OOM). Options other than `keys` (redis-py's cache hint) and
    CONNECTION_BOUND commands take the pooled way; so does `pipeline()`."""

    multiplexer: Multiplexer | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if (options and options.keys() != {"keys"}) or self.single_connection_client:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        mux = self.multiplexer
        if mux is None or connection_bound(args[0]):
            return await self._pooled(args, options)
        try:
            response = await mux.execute(PACKER.pack_command(*args))
        except Unsent as unsent:
            failure = unsent.error  # raised below, outside this handler: its own cause kept
        except (RedisConnectionError, RedisTimeoutError):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        else:
            callback = self.response_callbacks.get(args[0])
            return callback(response) if callback is not None else response
        raise failure

    async def _pooled(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        pool = self.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_command(*args)
            response = await conn.read_response()
        except (RedisConnectionError, RedisTimeoutError):
            await conn.disconnect()
            await pool.release(conn)
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except BaseException:
            await pool.release(conn)
            raise
        await pool.release(conn)
        callback = self.response_callbacks.get(args[0])
        return callback(response) if callback is not None else response

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self.multiplexer is not None:
            await self.multiplexer.aclose()
        await super().aclose(close_connection_pool)


class HiredisPacking:
    """Commands packed by hiredis (C) instead of redis-py's asyncio connection's Python
    packer, which encodes argument by argument: a verification flow sends ~140 arguments
    (the scripts' ARGV). The same bytes for str, bytes, int and float (utf-8), and the same
    refusal of anything else (bool, None: DataError); redis-py's synchronous client packs
    this way whenever hiredis is installed."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # a command name with a space ("CONFIG GET") is sent as separate arguments
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


class ShortSend(AbstractConnection):
    """A command sent without a timer when the socket takes it whole. redis-py sends each
    command as `wait_for(write + drain, socket_timeout)`, which on Python 3.11 starts a
    task per command (~10 µs); when the write buffer was empty and the kernel took every
    byte, the drain has nothing to wait for and the timer nothing to bound. Otherwise (a
    command larger than the socket takes at once, a slow Redis) the rest is drained under
    socket_timeout, with redis-py's own error handling, as before."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        writer = self._writer
        if (
            writer is None
            or not self.is_connected
            or writer.transport.get_write_buffer_size()
            or not isinstance(command, list)
        ):
            return await super().send_packed_command(command, check_health)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]  # a due health ping
            writer = self._writer
            if writer is None:  # the ping failed and the connection was dropped
                return await super().send_packed_command(command, False)
        writer.writelines(command)
        if writer.transport.get_write_buffer_size():
            # what the kernel did not take: drained under socket_timeout, errors as redis-py's
            await super().send_packed_command([], False)
        return None


PACKER = HiredisPacking()


class HiredisConnection(ShortSend, HiredisPacking, Connection):
    pass


class HiredisSSLConnection(ShortSend, HiredisPacking, SSLConnection):
    pass


class HiredisUnixConnection(ShortSend, HiredisPacking, UnixDomainSocketConnection):
    pass


# what redis-py's from_url picks per scheme -> the same with hiredis packing
PACKING = {
    Connection: HiredisConnection,
    SSLConnection: HiredisSSLConnection,
    UnixDomainSocketConnection: HiredisUnixConnection,
}


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (asks the sentinels for the primary) that waits for a free
    connection like BlockingConnectionPool instead of refusing (redis-py has no such class;
    the two compose: Sentinel's overrides connect, Blocking's get_connection waits)."""


class RedisUrlError(ValueError):
    """A redis_url this module cannot use; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    scheme: str
    hosts: list[tuple[str, int]]
    username: str | None
    password: str | None
    service_name: str | None
    db: int
    options: dict[str, str]

    @property
    def tls(self) -> bool:
        return self.scheme.startswith("rediss")


def _host_port(item: str, default_port: int, url_part: str) -> tuple[str, int]:
    item = item.strip()
    if not item:
        raise RedisUrlError(f"redis_url: empty host in {url_part!r}")
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = item.rpartition(":") if ":" in item else (item, "", "")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f"redis_url: bad port {port_text!r} in {url_part!r}")
    return host, int(port_text)


def parse_multi_host(url: str) -> ParsedUrl:
    """Parse the sentinel and cluster forms (several hosts; urllib handles only one)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, sep, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if sep else None
        if not sep:  # "redis+sentinel://secret@host" reads as a password, as redis-py does
            username, password = None, unquote(user)
    default_port = DEFAULT_SENTINEL_PORT if scheme in SENTINEL_SCHEMES else DEFAULT_PORT
    hosts = [_host_port(h, default_port, hostlist) for h in hostlist.split(",")]
    path = [unquote(p) for p in parts.path.split("/") if p]
    service_name = None
    db = 0
    if scheme in SENTINEL_SCHEMES:
        if not path:
            raise RedisUrlError(
                "redis_url: the sentinel form needs the service name: "
                "redis+sentinel://host:26379[,host:26379]/<service_name>[/db]"
            )
        service_name = path[0]
        if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise RedisUrlError("redis_url: after the service name only a db number may follow")
        db = int(path[1]) if len(path) == 2 else 0
    elif path:
        raise RedisUrlError("redis_url: the cluster form takes no path (a cluster has only db 0)")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return ParsedUrl(scheme, hosts, username, password, service_name, db, options)


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES)


def _common(options: dict[str, str]) -> dict[str, Any]:
    try:
        return {
            "socket_timeout": float(options.get("socket_timeout", SOCKET_TIMEOUT)),
            "socket_connect_timeout": float(options.get("socket_connect_timeout", CONNECT_TIMEOUT)),
        }
    except ValueError:
        raise RedisUrlError("redis_url: socket timeouts are numbers of seconds") from None


def max_connections(options: dict[str, str], default: int = MAX_CONNECTIONS) -> int:
    """`?max_connections=N` (a positive integer), or `default`."""
    raw = options.get("max_connections")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise RedisUrlError(f"redis_url: max_connections must be a positive integer, not {raw!r}")
    return int(raw)


def pipelining(options: dict[str, str]) -> bool:
    """`?pipelining=on|off` (default on): whether a single server's client auto-pipelines
    (store/multiplex.py). Sentinel and Cluster clients never do; there it is only checked."""
    raw = options.get(PIPELINING, "on")
    if raw not in ("on", "off"):
        raise RedisUrlError(f"redis_url: pipelining is on or off, not {raw!r}")
    return raw == "on"


def _without(url: str, name: str) -> str:
    """`url` without the query parameter `name`."""
    parts = urlsplit(url)
    if name not in parse_qs(parts.query):
        return url
    kept = [p for p in parts.query.split("&") if p.partition("=")[0] != name]
    return parts._replace(query="&".join(kept)).geturl()


def _tls(parsed: ParsedUrl) -> dict[str, Any]:
    if not parsed.tls:
        return {}
    tls: dict[str, Any] = {"ssl": True}
    if "ssl_cert_reqs" in parsed.options:
        tls["ssl_cert_reqs"] = parsed.options["ssl_cert_reqs"]
    if "ssl_ca_certs" in parsed.options:
        tls["ssl_ca_certs"] = parsed.options["ssl_ca_certs"]
    return tls


def connect(url: str) -> RedisClient:
    """Build the client for any supported `redis_url` form; connects lazily."""
    scheme = urlsplit(url).scheme.lower()
    retry_on: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]
    if scheme in SINGLE_SCHEMES:
        options = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        size = max_connections(options)  # validated here; redis-py reads it from the URL too
        multiplexed = pipelining(options)
        pool = WaitingPool.from_url(
            _without(url, PIPELINING),  # redis-py would hand it to the connection class
            max_connections=size,
            timeout=pool_wait(_common(options)["socket_timeout"]),
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=30,
            retry=_retry(),
            retry_on_error=retry_on,
        )
        pool.connection_class = PACKING.get(pool.connection_class, pool.connection_class)
        client = ShortPathRedis.from_pool(pool)
        assert isinstance(client, ShortPathRedis)
        kwargs = pool.connection_kwargs
        if str(kwargs.get("protocol", 2)) == "3" and not multiplex.TELLS_PUSHES:
            multiplexed = False  # a push would be taken for a reply
        if multiplexed:
            client.multiplexer = Multiplexer(
                lambda: pool.connection_class(**kwargs), kwargs.get("socket_timeout")
            )
        return client
    if scheme in SENTINEL_SCHEMES or scheme in CLUSTER_SCHEMES:
        pipelining(parse_multi_host(url).options)  # a bad value fails on every form
    if scheme in SENTINEL_SCHEMES:
        return _sentinel(parse_multi_host(url), retry_on)
    if scheme in CLUSTER_SCHEMES:
        parsed = parse_multi_host(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in parsed.hosts],
            username=parsed.username,
            password=parsed.password,
            decode_responses=True,
            health_check_interval=30,
            retry=_retry(),
            retry_on_error=retry_on,
            max_connections=max_connections(parsed.options, CLUSTER_MAX_CONNECTIONS),
            **_common(parsed.options),
            **_tls(parsed),
        )
    known = ", ".join(f"{s}://" for s in (*SINGLE_SCHEMES, *SENTINEL_SCHEMES, *CLUSTER_SCHEMES))
    raise RedisUrlError(f"redis_url: unknown scheme {scheme!r} (known: {known})")


def _sentinel(parsed: ParsedUrl, retry_on: list[type[Exception]]) -> aioredis.Redis:
    common = _common(parsed.options)
    tls = _tls(parsed)
    sentinel_kwargs: dict[str, Any] = {**common, **tls}
    if "sentinel_password" in parsed.options:
        sentinel_kwargs["password"] = parsed.options["sentinel_password"]
    if "sentinel_username" in parsed.options:
        sentinel_kwargs["username"] = parsed.options["sentinel_username"]
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        parsed.hosts,
        sentinel_kwargs=sentinel_kwargs,
        username=parsed.username,
        password=parsed.password,
        db=parsed.db,
        decode_responses=True,
        health_check_interval=30,
        **common,
        **tls,
    )
    assert parsed.service_name is not None
    # The client asks the sentinels for the current primary on each new connection, and a
    # connection to a demoted primary fails with ReadOnlyError -> reconnect -> retry.
    client: aioredis.Redis = sentinel.master_for(
        parsed.service_name,
        redis_class=aioredis.Redis,
        connection_pool_class=BlockingSentinelPool,
        max_connections=max_connections(parsed.options),
        timeout=pool_wait(common["socket_timeout"]),
        retry=_retry(),
        retry_on_error=retry_on,
    )
    return client


def describe(url: str) -> str:
    """The URL without its password, for logs and `check-config`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0] if ":" in userinfo else ""
    return parts._replace(netloc=f"{user}:***@{hosts}" if user else f":***@{hosts}").geturl()
