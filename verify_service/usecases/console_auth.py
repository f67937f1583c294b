"""Signing operators in and out of the console (config/console.py, docs/security.md).

- Passwords are checked against their argon2id hashes in a worker thread (never on the event
  loop); an unknown name is checked against a dummy hash, so the answer takes as long and
  says the same ("wrong name or password") either way.
- Sign-ins are rate limited (the `limits` library, like the API's limits) per client address
  and per name, before any hash work: guessing costs the guesser, not the server.
- A session is a random 256-bit id in the cookie; Redis keeps, under the id's digest, who
  signed in and the session's CSRF token, for `session_ttl` seconds after sign-in.

Raises VerifyError: unauthorized (wrong name or password, unknown or expired session, bad
one-time token), rate_limited (too many sign-ins; `retry_after` set), store_unavailable."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from verify_service.config.abuse import parse_limits
from verify_service.config.console import ConsoleSettings, ConsoleUser
from verify_service.domain.errors import VerifyError
from verify_service.store.console import ConsoleSessionStore, SessionRecord
from verify_service.store.keys import tagged
from verify_service.store.limiter import Layer, RateLimiter

log = logging.getLogger("verify_service.console")

# Dev mode's operator: its "hash" is none (built without the config's checks), so it
# matches no password; only the one-time link signs it in.
DEV_OPERATOR = ConsoleUser.model_construct(
    name="dev",
    password_hash="$argon2id$dev-mode-one-time-link-only",  # noqa: S106
    services=["*"],
)
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked for names that do not exist, so that they cost the same time as real ones."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The argon2id PHC string of `password` for `[[console.users]] password_hash`."""
    return _HASHER.hash(password)


def new_one_time_token() -> str:
    return secrets.token_urlsafe(32)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in operator: `id` is the cookie's value, `csrf` the token every form
    carries back."""

    id: str
    operator: ConsoleUser
    csrf: str


class ConsoleAuth:
    def __init__(
        self,
        settings: ConsoleSettings,
        sessions: ConsoleSessionStore,
        limiter: RateLimiter,
        *,
        dev_operator: bool = False,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self._limiter = limiter
        self._limits = parse_limits(settings.login_limits)
        self._users = {user.name: user for user in settings.users}
        if dev_operator:  # dev mode: reachable through the one-time link only
            self._users.setdefault(DEV_OPERATOR.name, DEV_OPERATOR)

    async def _limit(self, *subjects: str) -> None:
        # Both subjects in one store call, all or nothing (store/limiter.py).
        layers = [
            Layer("console_login", tagged("console-login", subject), self._limits)
            for subject in subjects
        ]
        refusal = await self._limiter.hit("moving-window", layers)
        if refusal is not None:
            log.warning("console: sign-in refused by its rate limit (%s)", refusal.limit)
            raise VerifyError(
                "rate_limited",
                f"too many sign-ins; try again in {refusal.retry_after} s",
                retry_after=refusal.retry_after,
            )

    async def sign_in(self, name: str, password: str, client: str | None) -> Session:
        await self._limit(f"ip:{client or '-'}", f"name:{name[:64]}")
        user = self._users.get(name)
        known = user is not None and user is not DEV_OPERATOR
        target = user.password_hash if known and user is not None else _dummy_hash()
        good = await anyio.to_thread.run_sync(_matches, target, password)
        if not (known and good) or user is None:
            log.warning("console: failed sign-in", extra={"event": "console_sign_in_failed"})
            raise VerifyError("unauthorized", "wrong name or password")
        log.info(
            "console: %s signed in",
            user.name,
            extra={"event": "console_sign_in", "actor": user.name},
        )
        return await self._open(user)

    async def _open(self, user: ConsoleUser) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32))
        record = SessionRecord(user.name, session.csrf, int(time.time()))
        await self._sessions.put(session.id, record, self.settings.session_ttl)
        return session

    async def register_one_time(self, token: str) -> None:
        """Dev mode: `token` (from `new_one_time_token`) signs the dev operator in once,
        within a day."""
        await self._sessions.put_one_time(token, DEV_OPERATOR.name)

    async def redeem(self, token: str, client: str | None) -> Session:
        await self._limit(f"ip:{client or '-'}")
        name = await self._sessions.take_one_time(token[:128]) if token else None
        user = self._users.get(name or "")
        if user is None:
            raise VerifyError("unauthorized", "this sign-in link is unknown or was used")
        log.info(
            "console: %s signed in with a one-time link",
            user.name,
            extra={"event": "console_sign_in", "actor": user.name},
        )
        return await self._open(user)

    async def session(self, session_id: str | None) -> Session:
        """The session of a cookie value. Raises VerifyError(unauthorized) for none, an
        unknown or expired one, or one whose operator is no longer configured."""
        if not session_id or len(session_id) > 128:
            raise VerifyError("unauthorized", "sign in first")
        record = await self._sessions.get(session_id)
        user = self._users.get(record.operator) if record else None
        if record is None or user is None:
            raise VerifyError("unauthorized", "the session expired; sign in again")
        return Session(session_id, user, record.csrf)

    async def sign_out(self, session: Session) -> None:
        await self._sessions.delete(session.id)
        log.info(
            "console: %s signed out",
            session.operator.name,
            extra={"event": "console_sign_out", "actor": session.operator.name},
        )


def csrf_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
