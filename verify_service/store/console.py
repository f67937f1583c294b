"""Console sessions and dev mode's one-time sign-in tokens in Redis (`keys.console_*`).

A session is found by the digest of the random id in its cookie: a copy of Redis gives no
usable cookie. It expires on Redis's clock (`session_ttl` after sign-in) and is deleted on
sign-out. Every call raises VerifyError(store_unavailable) when Redis does not answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

from verify_service.store import keys
from verify_service.store.connect import RedisClient
from verify_service.store.verifications import deadline_for, store_call

_WHAT = "the console's session store"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Who signed in (`operator`), the session's CSRF token, when (epoch s)."""

    operator: str
    csrf: str
    signed_in_at: int


class ConsoleSessionStore:
    def __init__(self, client: RedisClient) -> None:
        self.client = client
        self.deadline = deadline_for(client)

    async def put(self, session_id: str, record: SessionRecord, ttl: int) -> None:
        value = json.dumps(
            {"operator": record.operator, "csrf": record.csrf, "at": record.signed_in_at}
        )
        with store_call(self.deadline, what=_WHAT):
            await self.client.set(keys.console_session_key(session_id), value, ex=ttl)

    async def get(self, session_id: str) -> SessionRecord | None:
        with store_call(self.deadline, what=_WHAT):
            raw = await self.client.get(keys.console_session_key(session_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return SessionRecord(str(data["operator"]), str(data["csrf"]), int(data["at"]))

    async def delete(self, session_id: str) -> None:
        with store_call(self.deadline, what=_WHAT):
            await self.client.delete(keys.console_session_key(session_id))

    async def put_one_time(self, token: str, operator: str) -> None:
        with store_call(self.deadline, what=_WHAT):
            await self.client.set(
                keys.console_login_key(token), operator, ex=keys.ONE_TIME_LOGIN_TTL
            )

    async def take_one_time(self, token: str) -> str | None:
        """The operator of a one-time token, which is gone after this call; None for an
        unknown or used one."""
        with store_call(self.deadline, what=_WHAT):
            raw = await self.client.getdel(keys.console_login_key(token))
        return None if raw is None else (raw.decode() if isinstance(raw, bytes) else str(raw))
