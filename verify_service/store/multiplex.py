"""Auto-pipelining: the commands a worker issues in one event-loop iteration go to Redis in
one write on one shared connection, and the replies, which Redis sends in order, go back
to their callers in order (what ioredis and Lettuce do; redis-py has no such thing).

Why: each command on its own pooled connection costs Redis a wake-up (read, event-loop
turn, write) and the worker a send syscall (~40 µs on loopback) and a receive wake-up; a
verification flow makes ~4 such calls (docs/performance.md, "Wave 7"). Here a busy
worker's commands share those costs.

Shape: `Multiplexer.execute(packed)` queues one packed command (redis-py's packing, bytes
chunks) and returns its raw reply, or raises the error reply (ResponseError and its kin:
only that caller's). One `_Link` per connection: a task connects it (redis-py's
connection class: AUTH, SELECT, TLS, unix sockets, the handshake are its `on_connect`),
then the link becomes the transport's protocol and parses replies as bytes arrive
(hiredis, with redis-py's error classes), handing each to the oldest waiting caller in
that callback: no reader task. Writes are coalesced: the first command of an iteration
schedules a flush (`loop.call_soon`) that writes everything queued by then in one
`write`.

Failure cases (tests/unit/store/test_multiplex.py):
- a RESP3 push (`?protocol=3`: maintenance notifications, redirected invalidations)
  answers no command: dropped, never handed to a caller;
- a reply that does not decode (a value not UTF-8): that caller's UnicodeDecodeError
  alone, as redis-py's; hiredis consumed the reply, the link stays in step;
- a caller cancelled (its deadline) while its command is queued: the command is never
  sent; while in flight: its reply is read and dropped, nobody else is disturbed;
- the connection lost (EOF, socket error): every caller whose command was sent gets a
  RedisConnectionError, as on a pooled connection, and the next command reconnects;
- Redis slow or silent (DEBUG SLEEP, SIGSTOP): a caller owed a reply `socket_timeout`
  after its command went out gets RedisTimeoutError ("Timeout reading from …", redis-py's
  words), as on a pooled connection, while the callers behind it keep their own time;
  the connection is dropped once all owed callers are past theirs, or after GONE
  timeouts without a byte; one watchdog timer (`_Link.check`), not a timer per command;
- connecting fails: the queued callers get `Unsent` (nothing was sent), carrying
  redis-py's error, which the client raises as it is, as a pooled connection would."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError


class Unsent(Exception):
    """Connecting failed: the command was not sent. `error` is redis-py's error (a
    RedisConnectionError, RedisTimeoutError, or AuthenticationError...)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _fresh(error: BaseException) -> BaseException:
    """A copy of `error` per caller: one exception object raised in several tasks would
    collect all their tracebacks."""
    try:
        copy = type(error)(*error.args)
    except Exception:  # an exception class with another constructor
        return error
    copy.__cause__, copy.__context__ = error.__cause__, error.__context__  # the root cause
    return copy


Queued = tuple[Sequence[bytes], "asyncio.Future[Any]"]
_MORE = object()  # hiredis: no whole reply buffered yet
# a RESP3 push, as redis-py tells them apart; hiredis < 3.2 cannot (connect.py then keeps
# RESP3 clients on the pool)
_PUSH: Any = getattr(hiredis, "PushNotification", ())
TELLS_PUSHES = _PUSH != ()
GONE = 3  # socket timeouts without a byte while replies are owed: Redis is taken for gone


class _Link(asyncio.Protocol):
    """One connection: its callers owed a reply (oldest first). A task connects (redis-py's
    connection and handshake); then the link takes the socket's bytes itself (it becomes
    the transport's protocol) and hands each reply out as it is parsed, in the transport's
    callback: no reader task to wake, no loop turn between a reply and its caller. Dead
    once it failed; the multiplexer then opens a new one."""

    def __init__(
        self, mux: Multiplexer, conn: AbstractConnection, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.mux = mux
        self.conn = conn
        self.loop = loop
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.sent: deque[float] = deque()  # loop time each pending command went out
        self.ready = False  # connected and handshaken: writes go straight out
        self.dead = False
        self.since = 0.0  # loop time of the last bytes while replies are owed
        self.watchdog: asyncio.TimerHandle | None = None
        self.replies: hiredis.Reader | None = None
        self.task = loop.create_task(self.run())

    async def run(self) -> None:
        conn = self.conn
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
        except Exception as exc:
            self.dead = True
            self.mux.fail_queued(exc, sent=False)
            return
        try:
            self.take(conn)
        except Exception as exc:  # redis-py's or hiredis's internals changed (an upgrade):
            # the callers get the error now, not a wait on a link neither ready nor dead
            self.mux.fail_queued(exc, sent=False)
            self.die(exc)
            return
        self.ready = True
        self.mux.write(self)

    def take(self, conn: AbstractConnection) -> None:
        """The socket's bytes from now on come to data_received (the handshake's replies
        are read, nothing else is owed)."""
        writer = conn._writer
        assert writer is not None
        # what redis-py's hiredis parser would build: its error classes, its decoding
        options: dict[str, Any] = {}
        if conn.encoder.decode_responses:
            options = {"encoding": conn.encoder.encoding, "errors": conn.encoder.encoding_errors}
        self.replies = hiredis.Reader(
            protocolError=InvalidResponse,
            replyError=conn._parser.parse_error,
            notEnoughData=_MORE,
            **options,
        )
        writer.transport.set_protocol(self)

    def data_received(self, data: bytes) -> None:
        replies = self.replies
        assert replies is not None
        replies.feed(data)
        self.since = self.loop.time()
        pending = self.pending
        while True:
            try:
                reply = replies.gets()
            except UnicodeDecodeError as exc:  # not text: hiredis consumed it, still in step
                reply = exc  # its caller's alone, as redis-py raises it
            except Exception as exc:  # a protocol error: the stream is out of step
                self.die(exc)
                return
            if reply is _MORE:
                return
            if isinstance(reply, _PUSH):  # RESP3 out-of-band (a maintenance notification,
                continue  # an invalidation redirected here): no command's reply
            if not pending:  # a reply nobody asked for: out of step
                self.die(RedisConnectionError("Reply without a command on a multiplexed link"))
                return
            waiter = pending.popleft()
            self.sent.popleft()
            if waiter.done():  # its caller was cancelled: read and dropped
                continue
            if isinstance(reply, list) and reply and isinstance(reply[0], RedisConnectionError):
                reply = reply[0]  # as redis-py's parser raises it
            if isinstance(reply, BaseException):  # an error reply: its caller's alone
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def eof_received(self) -> bool:
        self.die(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self.die(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        else:
            where = self.conn._host_error()
            self.die(RedisConnectionError(f"Error while reading from {where} : {exc.args}"))

    def send(self, queued: list[Queued]) -> None:
        chunks: list[bytes] = []
        pending, sent = self.pending, self.sent
        was_idle = not pending
        now = self.loop.time()
        for packed, waiter in queued:
            if waiter.done():  # cancelled before it went out: never sent
                continue
            chunks.extend(packed)
            pending.append(waiter)
            sent.append(now)
        if not chunks:
            return
        if was_idle:
            self.since = now
            if self.watchdog is None and self.mux.timeout is not None:
                self.watchdog = self.loop.call_at(self.since + self.mux.timeout, self.check)
        writer = self.conn._writer
        assert writer is not None
        writer.write(b"".join(chunks))

    def check(self) -> None:
        """The watchdog, per caller as on a pooled connection: a caller owed a reply
        `timeout` after its command went out gets RedisTimeoutError, its slot kept (its
        reply, if it comes, is dropped, as a cancelled caller's); the others keep waiting.
        Dropping the connection then would fail them too, and Redis still runs what it
        has buffered: a command sent again the full way would run twice. The connection
        is dropped once every owed caller is past its timeout (nobody loses by it), or
        when Redis has sent nothing for GONE x `timeout` while callers keep coming (what
        is owed stays bounded). Checks at most every `timeout` / 8: a caller may fail up
        to that late."""
        self.watchdog = None
        timeout = self.mux.timeout
        if self.dead or not self.pending or timeout is None:
            return
        now = self.loop.time()
        gone = self.since + GONE * timeout
        if now >= gone:
            self.die(self.timed_out())
            return
        for sent, waiter in zip(self.sent, self.pending, strict=True):
            if sent + timeout > now:
                due = max(sent + timeout, now + timeout / 8)
                self.watchdog = self.loop.call_at(min(due, gone), self.check)
                return
            if not waiter.done():
                waiter.set_exception(self.timed_out())
        self.die(self.timed_out())  # every owed caller is past its timeout

    def timed_out(self) -> RedisTimeoutError:
        return RedisTimeoutError(f"Timeout reading from {self.conn._host_error()}")

    def die(self, error: BaseException) -> None:
        if self.dead:
            return
        self.dead = True
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        pending, self.pending = self.pending, deque()
        self.sent = deque()
        for waiter in pending:
            if not waiter.done():
                waiter.set_exception(_fresh(error))
        self.conn._close()  # type: ignore[no-untyped-call]  # nothing more goes either way
        if asyncio.current_task() is not self.task:
            self.task.cancel()  # still connecting: stop


class Multiplexer:
    """Commands of one event loop on one shared connection (see the module's docstring).
    `make_connection()` gives an unconnected redis-py connection (the pool's class and
    kwargs); `timeout` is the socket timeout in seconds (None: no bound)."""

    def __init__(
        self, make_connection: Callable[[], AbstractConnection], timeout: float | None
    ) -> None:
        self.make_connection = make_connection
        self.timeout = timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self.link: _Link | None = None
        self.queued: list[Queued] = []
        self.flush_due = False

    async def execute(self, packed: Sequence[bytes]) -> Any:
        """The raw reply to one packed command; an error reply raised. Raises
        RedisConnectionError / RedisTimeoutError when the connection failed after the
        command may have gone out, Unsent when connecting failed."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.rebind(loop)
        waiter: asyncio.Future[Any] = loop.create_future()
        self.queued.append((packed, waiter))
        if not self.flush_due:
            self.flush_due = True
            loop.call_soon(self.flush)
        return await waiter

    def rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """A new event loop (tests run one per test): what the old one had is abandoned."""
        if self.link is not None:
            with contextlib.suppress(RuntimeError):  # that loop is closed: so is its socket
                self.link.conn._close()  # type: ignore[no-untyped-call]
        self.loop, self.link, self.queued, self.flush_due = loop, None, [], False

    def flush(self) -> None:
        self.flush_due = False
        link = self.link
        if link is None or link.dead:
            assert self.loop is not None  # execute() bound it
            link = self.link = _Link(self, self.make_connection(), self.loop)
        if link.ready:
            self.write(link)
        # else: the link's task writes the queue once connected

    def write(self, link: _Link) -> None:
        queued, self.queued = self.queued, []
        if queued:
            link.send(queued)

    def fail_queued(self, error: BaseException, *, sent: bool = True) -> None:
        """Fail the commands not yet written: with `error`, or with Unsent(error) when
        `sent` is False (connecting failed: the caller knows nothing went out)."""
        queued, self.queued = self.queued, []
        for _, waiter in queued:
            if not waiter.done():
                waiter.set_exception(_fresh(error) if sent else Unsent(_fresh(error)))

    async def aclose(self) -> None:
        """Drop the connection; callers still waiting get RedisConnectionError."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.rebind(loop)  # another loop's link: abandoned there
        link, self.link = self.link, None
        self.fail_queued(RedisConnectionError("Connection closed by the client."))
        if link is not None:
            link.die(RedisConnectionError("Connection closed by the client."))
            await asyncio.wait([link.task])  # its end, whatever it was; raises nothing
