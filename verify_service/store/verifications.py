"""The verification store on Redis (or the embedded fakeredis). Each state change is one
EVALSHA of a script in `scripts/`; expiry is judged by Redis `TIME` inside the scripts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from verify_service.domain.errors import VerifyError
from verify_service.store import keys
from verify_service.store.connect import SOCKET_TIMEOUT, RedisClient, connect
from verify_service.store.records import StoredVerification, escape, pack_attempt
from verify_service.store.scripts import ANY, Call, Scripts, failed

log = logging.getLogger("verify_service.store")

P = ParamSpec("P")
T = TypeVar("T")

# Seconds one store call may take in all. The socket timeouts bound each step, but the
# client retries (a connect, then the command, to ride over a failover), so a hung Redis
# could otherwise hold a request for several timeouts: this is one timed-out command, one
# retry and the quick backoffs between. Past it, the caller gets a 503 it can retry.
# It follows a `socket_timeout` set in redis_url.
STORE_DEADLINE = 2 * SOCKET_TIMEOUT + 1.0


def deadline_for(client: Any) -> float:
    """STORE_DEADLINE for this client's `socket_timeout` (seconds)."""
    pool = getattr(client, "connection_pool", None)
    timeout = getattr(pool, "connection_kwargs", {}).get("socket_timeout")
    if isinstance(timeout, int | float) and timeout > 0:
        return 2 * float(timeout) + 1.0
    return STORE_DEADLINE


_IDEM_PENDING = "pending"


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """`outcome`: created | resent (with `record`) | max_send_attempts | resend_too_soon
    (with `retry_after`, seconds) | checked (a check run ahead refused the start: the store
    did nothing). `checks`: the replies of the checks run ahead (`Store.start`)."""

    outcome: str
    record: StoredVerification | None = None
    retry_after: int | None = None
    checks: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class ScriptOutcome:
    """`outcome`: the script's word (reserved | final | changed | unchanged | not_found
    ...); `record`: the verification as it replied it. `side`: the replies of the side
    calls that ran with it in its round trip (`Store.finish`'s `then`, `record_sends`'
    `attempt_log`), in order; None when they were given but did not run with it (on a
    Cluster: the caller runs them on its own)."""

    outcome: str
    record: StoredVerification | None
    side: tuple[Any, ...] | None = ()


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    fingerprint: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class StoreCall:
    """`with store_call(...)`: see there. The deadline is asyncio.timeout's logic (the
    loop cancels the task at the deadline; the cancellation it caused, and only that one,
    becomes the timeout) as a plain `with` block: one timer handle per call, where
    `anyio.fail_after` cost a cancel scope and a generator per call, ~10 per flow (redis-py
    is asyncio-only, so the store always runs on asyncio)."""

    __slots__ = ("_cancelling", "_expired", "_failures", "_handle", "_task", "deadline", "what")

    def __init__(self, deadline: float, failures: tuple[type[Exception], ...], what: str) -> None:
        self.deadline = deadline
        self.what = what
        self._failures = failures
        self._expired = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("store_call needs a running asyncio task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self.deadline, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        self._handle.cancel()
        if (
            self._expired
            and kind is asyncio.CancelledError
            and self._task.uncancel() <= self._cancelling
        ):  # our deadline, not a cancellation from outside (that one goes on)
            raise VerifyError("store_unavailable", f"{self.what} did not answer") from exc
        if exc is not None and isinstance(exc, self._failures):
            raise VerifyError("store_unavailable", f"{self.what} did not answer") from exc


def store_call(
    deadline: float,
    *also: type[Exception],
    what: str = "the verification store",
) -> StoreCall:
    """One call to Redis, bounded by `deadline` (seconds); any Redis failure (or one of
    `also`, for libraries that wrap it) becomes `store_unavailable` ("<what> did not
    answer"): a 503 the caller can retry, never a 500 and never a hang. Every module that
    talks to Redis goes through this (`with store_call(deadline): ...`). The deadline is
    per call, not per request: a request that makes several calls may wait up to the
    deadline on each (README "Operations")."""
    return StoreCall(deadline, (RedisError, TimeoutError, *also), what)


def _unavailable(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with store_call(getattr(args[0], "deadline", STORE_DEADLINE)):
            return await fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _log_index_failure(failure: Any) -> None:
    """A message-id index write that failed: that message's delivery reports are lost."""
    what = type(failure).__name__ if isinstance(failure, Exception) else str(failure[1])
    log.warning("message id index not written: %s", what)


_ANY = (ANY,)


def _side(call: Call) -> Call:
    """`call` as a side effect of a chain: guarded, and the chain goes on after it."""
    return Call(call.name, call.keys, call.args, _ANY, guarded=True)


def _outcome(reply: list[str], side: tuple[Any, ...] | None = ()) -> ScriptOutcome:
    if len(reply) < 2:
        return ScriptOutcome(reply[0], None, side)
    return ScriptOutcome(reply[0], StoredVerification.from_reply(reply[1], reply[2:]), side)


@dataclass(frozen=True, slots=True)
class AppliedReport:
    """What a delivery report did (`outcome`: changed | unchanged | unknown) and, when it
    changed a send attempt, that attempt's `service`, `verification_id` and `sent_at_ms`
    (its `at`, ms since the epoch: where the attempt log keeps its record; None when the
    stored time cannot be read)."""

    outcome: str
    service: str = ""
    verification_id: str = ""
    sent_at_ms: int | None = None

    @classmethod
    def of(cls, reply: Sequence[Any], verification_id: str) -> AppliedReport:
        """From report.lua's reply: {'changed', service, the attempt's `at` as stored}."""
        if reply[0] == "not_found":
            return cls("unknown")
        if reply[0] != "changed" or len(reply) < 3:
            return cls(str(reply[0]))
        return cls("changed", str(reply[1]), verification_id, _stored_ms(str(reply[2])))


def _stored_ms(at: str) -> int | None:
    """A send attempt's stored `at` in ms: an ISO 8601 text (`SendAttempt.at_text`, always
    with `-` and `:`), or ms in base 36 (a packed attempt); None for neither."""
    try:
        if "-" not in at and ":" not in at:
            return int(at, 36)
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(milliseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Store:
    def __init__(self, client: RedisClient, *, clock_offset_ms: int = 0) -> None:
        self.client = client
        self.deadline = deadline_for(client)
        self.scripts_loaded = False
        # Tests move the one clock forward here; production leaves it at 0.
        self.clock_offset_ms = clock_offset_ms
        self.scripts = Scripts(client)
        # A Cluster keeps keys of different hash tags on different nodes: a script touches
        # one slot, so calls that a single server runs as one chain go one by one.
        self.one_slot_per_call = isinstance(client, RedisCluster)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Any `redis_url` form: one server, TLS, Sentinel or Cluster (see store/connect.py)."""
        return cls(connect(url))

    @classmethod
    def embedded(cls) -> Store:
        """In-process Redis (fakeredis with Lua): one process, nothing kept."""
        import fakeredis

        return cls(fakeredis.FakeAsyncRedis(decode_responses=True))

    async def _run(self, name: str, tag: str, *args: Any) -> list[str]:
        reply = await self.scripts.run(name, [keys.prefix(tag)], [self.clock_offset_ms, *args])
        return list(reply)

    @_unavailable
    async def load_scripts(self) -> None:
        """Load every script once at start-up so requests go straight to EVALSHA."""
        await self.scripts.load()
        self.scripts_loaded = True

    @_unavailable
    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def ready(self) -> None:
        """Readiness: the store answers and the scripts are loaded (loading them now when
        Redis was not up at start-up). Raises VerifyError(store_unavailable) otherwise."""
        if not self.scripts_loaded:
            await self.load_scripts()
        await self.ping()

    @_unavailable
    async def start(
        self,
        *,
        tag: str,
        new_id: str,
        service: str,
        to: str,
        expires_in: int,
        max_check_attempts: int,
        max_send_attempts: int,
        resend_cooldown: int,
        retention: int,
        token_type: str,
        token_length: int,
        channel: str,
        metadata: Mapping[str, str],
        checks: Sequence[Call] = (),
    ) -> StartOutcome:
        """Create a verification of (service, `to`), or resend on its pending one: decide
        the cooldown and send limits and reserve the send, storing no code. The caller then
        draws and hashes the code (a refused start costs no hash), of the record's own
        `token_type` and `token_length` (a resend keeps the verification's; the arguments
        only shape a new one), and `record_sends` stores its hash with its own expiry,
        `expires_in` seconds from the reservation (the reply's `now_ms`). A resend moves no
        `expires_at` here: that happens when the new code is stored.

        `checks`: script calls that must let the start through first (the abuse checks,
        `abuse.policy.Checks`), run in order ahead of it in the same round trip and
        atomically with it on one server (`Scripts.chain`; one call each on a Cluster).
        Their replies come back in `checks`; when one of them stopped the chain, the
        outcome is `checked` and nothing else happened."""
        meta = json.dumps(dict(metadata), separators=(",", ":")) if metadata else ""
        args = [
            self.clock_offset_ms,
            new_id,
            service,
            to,
            expires_in,
            max_check_attempts,
            max_send_attempts,
            resend_cooldown,
            retention,
            token_type,
            token_length,
            channel,
            meta,
        ]
        call = Call("start", [keys.prefix(tag)], args)
        replies = await self.scripts.chain([*checks, call], together=not self.one_slot_per_call)
        if len(replies) <= len(checks):
            return StartOutcome("checked", checks=replies)
        reply, checked = list(replies[-1]), replies[:-1]
        if reply[0] in ("max_send_attempts", "resend_too_soon"):
            return StartOutcome(reply[0], retry_after=int(reply[1]) or None, checks=checked)
        if reply[0] == "resent":
            record = StoredVerification.from_reply(reply[1], reply[2:])
            return StartOutcome(reply[0], record, checks=checked)
        # created: the script stored what it was given (start.lua) and replied only its time
        now = int(reply[1])
        created = StoredVerification(
            id=new_id,
            service=service,
            to=to,
            channel=channel,
            status="pending",
            token_type=token_type,
            token_length=token_length,
            created_at_ms=now,
            updated_at_ms=now,
            expires_at_ms=now + expires_in * 1000,
            check_attempts=0,
            max_check_attempts=max_check_attempts,
            max_send_attempts=max_send_attempts,
            send_count=1,
            sends=(),
            metadata=dict(metadata),
            codes=(),
            now_ms=now,
        )
        return StartOutcome(reply[0], created, checks=checked)

    async def _together(
        self, commands: Sequence[tuple[str, tuple[Any, ...], dict[str, Any]]]
    ) -> list[Any]:
        """Independent commands (possibly in different slots) in one round trip: a
        non-transactional pipeline on one server; on a Cluster, where redis-py refuses
        EVALSHA in pipelines, sent concurrently (one round trip of latency per node).
        Errors come back in the list, like `execute(raise_on_error=False)`."""
        if isinstance(self.client, RedisCluster):
            calls = (getattr(self.client, name)(*args, **kw) for name, args, kw in commands)
            return list(await asyncio.gather(*calls, return_exceptions=True))
        async with self.client.pipeline(transaction=False) as pipe:
            for name, args, kw in commands:
                getattr(pipe, name)(*args, **kw)
            return list(await pipe.execute(raise_on_error=False))

    @_unavailable
    async def record_sends(
        self,
        *,
        tag: str,
        verification_id: str,
        attempts: list[dict[str, Any]],
        sent: bool,
        code_hash: str,
        retention: int,
        code_expires_at_ms: int,
        message_ids: Sequence[tuple[str, str]] = (),
        index_ttl_ms: int = 0,
        base: StoredVerification | None = None,
        attempt_log: Call | None = None,
    ) -> ScriptOutcome:
        """Append the attempts; when `sent` and the verification is still pending, store
        `code_hash` (the code the send carried) with its own expiry `code_expires_at_ms`
        (Redis time, ms: the reservation's `now_ms` + expires_in), drop the expired codes
        and end the verification with its latest code. A failed send stores nothing and
        leaves `expires_at` alone; a pending verification left without any code by it
        becomes `failed`. Index each (provider, message id) for delivery reports, for
        `index_ttl_ms`.

        `attempt_log`: the attempt log's write of the same delivery
        (`AttemptStore.add_call`, run guarded: `Call.guarded`), whose reply comes back in
        `side` (`failed` tells a write that did not happen; it never fails the send's
        record).

        On one server the send's record, the attempt log's write and the index are one
        EVALSHA (`Scripts.chain`): one round trip, and atomic, so a delivery report,
        which finds its send through the index, always finds both records. On a Cluster
        their keys are in different slots: the send's record and the attempt log's write
        go concurrently, then the index (one round trip more, for the same order). An
        index write that fails loses only that message's delivery reports (logged).

        `base`: the record the caller has (the start's), for a smaller reply: only the
        fields a send can move come back, merged into it (`StoredVerification.updated`)."""
        args = [
            self.clock_offset_ms,
            verification_id,
            "\n".join(pack_attempt(a) for a in attempts),
            "1" if sent else "0",
            code_hash,
            retention,
            code_expires_at_ms,
            "0" if base else "1",
        ]
        recorded = Call("record_send", [keys.prefix(tag)], args, goes_on=_ANY)
        index = [keys.message_key(p, m) for p, m in message_ids]
        if not self.one_slot_per_call:
            calls = [recorded, *([_side(attempt_log)] if attempt_log else [])]
            if index:
                ttl = [verification_id, index_ttl_ms]
                calls.append(Call("message_index", index, ttl, guarded=True))
            replies = await self.scripts.chain(calls, together=True)
            if index and failed(replies[-1]):
                _log_index_failure(replies[-1])
            reply, side = list(replies[0]), tuple(replies[1 : 1 + bool(attempt_log)])
        else:
            # the send's record and the attempt log's write concurrently (one each)
            alone = [recorded, *([_side(attempt_log)] if attempt_log else [])]
            ran = await asyncio.gather(*(self.scripts.chain([c], together=False) for c in alone))
            reply, side = list(ran[0][0]), tuple(done[0] for done in ran[1:])
            if index:  # only once both records exist: the reports find them
                written = await self._together(
                    [("set", (key, verification_id), {"px": index_ttl_ms}) for key in index]
                )
                for failure in (w for w in written if isinstance(w, Exception)):
                    _log_index_failure(failure)
        if base is None or len(reply) < 2:
            return _outcome(reply, side)
        return ScriptOutcome(reply[0], base.updated(reply[1], reply[2:], lists=True), side)

    @_unavailable
    async def apply_reports(
        self, provider: str, reports: Sequence[tuple[str, str, str | None]]
    ) -> list[AppliedReport]:
        """Apply (message id, status, detail) reports of one provider, in order. For each:
        `changed`, `unchanged` (already so, or not a sent attempt) or `unknown` (not our
        message, or its verification is gone); a changed one names what the attempt log
        needs (`AppliedReport`). Two round trips for a whole batch: the index
        lookups, then the scripts (both pipelines are non-transactional: the keys are in
        different slots, and each script is a state change on its own)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for message_id, _, _ in reports:
                pipe.get(keys.message_key(provider, message_id))
            found: list[Any] = await pipe.execute()
        outcomes = [AppliedReport("unknown")] * len(reports)
        calls: list[tuple[int, str, list[Any]]] = []
        for index, (verification_id, report) in enumerate(zip(found, reports, strict=True)):
            tag = keys.tag_of_id(verification_id) if isinstance(verification_id, str) else None
            if tag is not None:
                message_id, status, detail = report
                args = [
                    verification_id,
                    escape(provider),
                    escape(message_id),
                    status,
                    escape(detail or ""),
                    provider,
                    message_id,
                    detail or "",
                ]
                calls.append((index, tag, args))
        if not calls:
            return outcomes
        sha = self.scripts["report"].sha
        replies = await self._together(
            [
                ("evalsha", (sha, 1, keys.prefix(t), self.clock_offset_ms, *a), {})
                for _, t, a in calls
            ]
        )
        for (index, tag, args), reply in zip(calls, replies, strict=True):
            if isinstance(reply, NoScriptError):  # Redis lost its script cache meanwhile
                reply = await self._run("report", tag, *args)
            elif isinstance(reply, Exception):
                raise reply
            outcomes[index] = AppliedReport.of(reply, args[0])
        return outcomes

    @_unavailable
    async def reserve(
        self,
        *,
        tag: str,
        service: str,
        verification_id: str | None,
        retention: int,
        shape: tuple[int, Iterable[str]] | None = None,
    ) -> ScriptOutcome:
        """Count one check attempt on the verification (or the number's latest one).

        `shape`: the typed code's (length, token types whose alphabet holds it); a
        verification of another length or type answers `malformed` and counts nothing.
        Outcomes: reserved | malformed | expired (this call recorded the expiry) |
        exhausted (pending, every attempt reserved) | final (ended) | not_found."""
        length, types = (
            ("", "") if shape is None else (str(shape[0]), ",".join(("", *shape[1], "")))
        )
        args = (service, verification_id or "", retention, length, types)
        return _outcome(await self._run("reserve", tag, *args))

    @_unavailable
    async def finish(
        self,
        *,
        tag: str,
        verification_id: str,
        status: str,
        retention: int,
        base: StoredVerification | None = None,
        then: Sequence[Call] = (),
    ) -> ScriptOutcome:
        """End the pending verification in `status` (approved | max_attempts_reached, the
        latter only with every attempt reserved): `changed`, or `unchanged` with the
        verification as it is; `not_found`. `base`: the record the check reserved on; the
        reply then carries only its status, update time and attempts, merged into it.

        `then`: side effects (the pumping guard's count of an approval, the attempt
        log's conversion: run guarded, `Call.guarded`) that run only when this call changed the
        verification, in the same round trip and atomically with it on one server
        (`Scripts.chain`): their replies come back in `side` (empty when it did not
        change it), a failed one as `[PART_FAILED, ...]` (`failed`) while the end
        stands. On a Cluster they cannot share its script: `side` is None, and the
        caller runs them on its own."""
        args = [self.clock_offset_ms, verification_id, status, retention, "0" if base else "1"]
        side: tuple[Any, ...] | None = ()
        if then and not self.one_slot_per_call:
            ended = Call("finish", [keys.prefix(tag)], args, goes_on=("changed",))
            replies = await self.scripts.chain([ended, *map(_side, then)], together=True)
            reply, side = list(replies[0]), tuple(replies[1:])
        else:
            reply = list(await self.scripts.run("finish", [keys.prefix(tag)], args))
            side = None if then else ()
        if base is None or len(reply) < 2:
            return _outcome(reply, side)
        return ScriptOutcome(reply[0], base.updated(reply[1], reply[2:], lists=False), side)

    @_unavailable
    async def end_pending(
        self, *, tag: str, service: str, verification_id: str, status: str, retention: int
    ) -> ScriptOutcome:
        """Move a pending verification of `service` to `status` (approved | canceled).
        Outcome: `status` when this call changed it, `expired` when it found and recorded
        the expiry, `not_pending` (an approval also when out of attempts), `not_found`."""
        args = (service, verification_id, status, retention)
        return _outcome(await self._run("end_pending", tag, *args))

    @_unavailable
    async def fetch(self, *, tag: str, service: str, verification_id: str) -> ScriptOutcome:
        return _outcome(await self._run("fetch", tag, service, verification_id))

    # Idempotency-Key records: plain SET NX, one key each, outside the verification slot.

    @_unavailable
    async def idempotency_claim(
        self, service: str, key: str, fingerprint: str
    ) -> IdempotentAnswer | str | None:
        """None: claimed, go ahead. A string: in progress with that fingerprint.
        An answer: the stored first answer."""
        name = keys.idempotency_key(service, key)
        claimed = await self.client.set(
            name,
            json.dumps({"state": _IDEM_PENDING, "fingerprint": fingerprint}),
            nx=True,
            ex=keys.IDEMPOTENCY_TTL,
        )
        if claimed:
            return None
        raw = await self.client.get(name)
        if raw is None:  # expired between the two calls: claim again
            return await self.idempotency_claim(service, key, fingerprint)
        stored = json.loads(raw)
        if stored["state"] == _IDEM_PENDING:
            return str(stored["fingerprint"])
        return IdempotentAnswer(
            stored["fingerprint"], stored["status"], stored["body"], stored["headers"]
        )

    @_unavailable
    async def idempotency_store(self, service: str, key: str, answer: IdempotentAnswer) -> None:
        record = {
            "state": "done",
            "fingerprint": answer.fingerprint,
            "status": answer.status,
            "body": answer.body,
            "headers": answer.headers,
        }
        await self.client.set(
            keys.idempotency_key(service, key), json.dumps(record), ex=keys.IDEMPOTENCY_TTL
        )

    @_unavailable
    async def idempotency_release(self, service: str, key: str) -> None:
        await self.client.delete(keys.idempotency_key(service, key))

    async def aclose(self) -> None:
        await self.client.aclose()
        # A Sentinel-managed client also holds connections to the sentinels themselves.
        pool = getattr(self.client, "connection_pool", None)
        manager = getattr(pool, "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", ()):
            await sentinel.aclose()
