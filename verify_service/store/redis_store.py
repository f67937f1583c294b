"""The verification store on Redis (or the embedded fakeredis). Each state change is one
EVALSHA of a script in `scripts/`; expiry is judged by Redis `TIME` inside the scripts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, ParamSpec, TypeVar

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from verify_service.core.errors import VerifyError
from verify_service.store import keys
from verify_service.store.connect import RedisClient, connect
from verify_service.store.records import StoredVerification

P = ParamSpec("P")
T = TypeVar("T")

IDEMPOTENCY_TTL = 24 * 3600
_IDEM_PENDING = "pending"

SCRIPT_NAMES = ("start", "record_send", "reserve", "finish", "cancel", "fetch", "approve")


@dataclass(frozen=True, slots=True)
class StartOutcome:
    outcome: str  # created | resent | max_send_attempts | resend_too_soon
    record: StoredVerification | None = None
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class ScriptOutcome:
    outcome: str  # script-specific word: reserved | final | changed | unchanged | not_found ...
    record: StoredVerification | None


@dataclass(frozen=True, slots=True)
class IdempotentAnswer:
    fingerprint: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _unavailable(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Any Redis failure becomes `store_unavailable`: a 503 the caller can retry, never a 500."""

    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except RedisError as exc:
            raise VerifyError("store_unavailable", "the verification store did not answer") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _outcome(reply: list[str]) -> ScriptOutcome:
    if len(reply) < 2:
        return ScriptOutcome(reply[0], None)
    return ScriptOutcome(reply[0], StoredVerification.from_reply(reply[1], reply[2:]))


class Store:
    def __init__(self, client: RedisClient, *, clock_offset_ms: int = 0) -> None:
        self.client = client
        self.scripts_loaded = False
        # Tests move the one clock forward here; production leaves it at 0.
        self.clock_offset_ms = clock_offset_ms
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(
                resources.files("verify_service.store").joinpath(f"scripts/{name}.lua").read_text()
            )
            for name in SCRIPT_NAMES
        }

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
        reply = await self._scripts[name](
            keys=[keys.prefix(tag)], args=[self.clock_offset_ms, *args]
        )
        return list(reply)

    @_unavailable
    async def load_scripts(self) -> None:
        """Load every script once at start-up so requests go straight to EVALSHA."""
        for script in self._scripts.values():
            script.sha = await self.client.script_load(script.script)
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
        code_hash: str,
        expires_in: int,
        max_check_attempts: int,
        max_send_attempts: int,
        resend_cooldown: int,
        retention: int,
        token_type: str,
        token_length: int,
        channel: str,
        metadata: Mapping[str, str],
    ) -> StartOutcome:
        reply = await self._run(
            "start",
            tag,
            new_id,
            service,
            to,
            code_hash,
            expires_in,
            max_check_attempts,
            max_send_attempts,
            resend_cooldown,
            retention,
            token_type,
            token_length,
            channel,
            json.dumps(dict(metadata), separators=(",", ":")),
        )
        if reply[0] in ("max_send_attempts", "resend_too_soon"):
            return StartOutcome(reply[0], retry_after=int(reply[1]) or None)
        return StartOutcome(reply[0], StoredVerification.from_reply(reply[1], reply[2:]))

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
    ) -> ScriptOutcome:
        lines = "\n".join(json.dumps(a, separators=(",", ":")) for a in attempts)
        reply = await self._run(
            "record_send", tag, verification_id, lines, "1" if sent else "0", code_hash, retention
        )
        return _outcome(reply)

    @_unavailable
    async def reserve(
        self, *, tag: str, service: str, verification_id: str | None, retention: int
    ) -> ScriptOutcome:
        return _outcome(await self._run("reserve", tag, service, verification_id or "", retention))

    @_unavailable
    async def finish(
        self, *, tag: str, verification_id: str, status: str, retention: int
    ) -> ScriptOutcome:
        return _outcome(await self._run("finish", tag, verification_id, status, retention))

    @_unavailable
    async def cancel(
        self, *, tag: str, service: str, verification_id: str, retention: int
    ) -> ScriptOutcome:
        return _outcome(await self._run("cancel", tag, service, verification_id, retention))

    @_unavailable
    async def approve(
        self, *, tag: str, service: str, verification_id: str, retention: int
    ) -> ScriptOutcome:
        return _outcome(await self._run("approve", tag, service, verification_id, retention))

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
            ex=IDEMPOTENCY_TTL,
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
            keys.idempotency_key(service, key), json.dumps(record), ex=IDEMPOTENCY_TTL
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
