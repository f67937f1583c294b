"""`[console]`: the operations console (README "Operations console", docs/security.md).

Off unless the table is there. Operators sign in with a name and a password whose argon2id
hash (`verify-service hash-password`) is all the config holds, at or above OWASP's
argon2id minimum (config/argon2_floor.py; weaker ones are refused at load); they are not
services and their passwords are not API keys. An operator sees only the services it
names ("*" = all).

    [console]
    path = "/console"             # where it is served
    session_ttl = 3600            # s a session lives after sign-in (absolute, server-side)
    secure_cookie = true          # false only for plain-HTTP development
    login_limits = ["5/minute", "30/hour"]   # failed and good sign-ins, per client and per name

    [[console.users]]
    name = "alice"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."
    services = ["*"]
"""

from __future__ import annotations

import base64
import binascii

from argon2 import Type, extract_parameters
from argon2.exceptions import InvalidHashError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from verify_service.config.abuse import parse_limits
from verify_service.config.argon2_floor import PROFILES, below_floor

ARGON2_PREFIX = "$argon2id$"
_MAKE_ONE = "make one with `verify-service hash-password`"


def _b64(part: str) -> bytes:
    """A PHC base64 field (no padding); ValueError when it is not one."""
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"is not a well-formed argon2id hash; {_MAKE_ONE}") from None


def check_password_hash(value: str) -> str:
    """`value` if it is an argon2id PHC string (version 19) at or above OWASP's minimum
    parameters (config/argon2_floor.py); ValueError saying which rule it breaks (and the
    parameters it has, never the hash) otherwise."""
    if not value.startswith(ARGON2_PREFIX):
        raise ValueError(
            f"must be an argon2id hash ('$argon2id$...'); {_MAKE_ONE} "
            "(plaintext passwords and other argon2 variants are not accepted)"
        )
    try:
        params = extract_parameters(value)
    except (InvalidHashError, ValueError):
        raise ValueError(f"is not a well-formed argon2id hash; {_MAKE_ONE}") from None
    salt, tag = value.split("$")[-2:]
    if params.type is not Type.ID or params.version != 19 or len(_b64(salt)) < 8:
        raise ValueError(f"is not a well-formed argon2id hash (version 19); {_MAKE_ONE}")
    if len(_b64(tag)) < 16:
        raise ValueError(f"is not a well-formed argon2id hash (tag too short); {_MAKE_ONE}")
    m, t = params.memory_cost, params.time_cost
    if below_floor(m, t):
        raise ValueError(
            f"argon2id with m={m} KiB, t={t} is below OWASP's minimum ({PROFILES}); "
            f"a leaked config would be cheap to search; {_MAKE_ONE} (m=65536, t=3)"
        )
    return value


class ConsoleUser(BaseModel):
    """One operator of the console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")  # logged as the actor
    password_hash: str  # PHC string of argon2id, from `verify-service hash-password`
    services: list[str] = Field(min_length=1)  # service names, or ["*"] for all

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        return check_password_hash(value)

    def sees(self, service: str) -> bool:
        return "*" in self.services or service in self.services


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="/console", pattern=r"^/[A-Za-z0-9_\-/]{1,63}$")
    session_ttl: int = Field(default=3600, ge=60, le=7 * 86400, description="seconds")
    secure_cookie: bool = True
    login_limits: list[str] = Field(default_factory=lambda: ["5/minute", "30/hour"])
    users: list[ConsoleUser] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.rstrip("/")
        if value in ("", "/v1", "/v2", "/docs", "/health", "/metrics", "/messaging"):
            raise ValueError(f"{value or '/'!r} is taken by the API; pick e.g. '/console'")
        return value

    @field_validator("login_limits")
    @classmethod
    def _limits(cls, values: list[str]) -> list[str]:
        parse_limits(values)
        return values


def check_console_users(console: ConsoleSettings | None, services: list[str]) -> None:
    """ValueError for a user naming an unknown service, or two users of one name."""
    if console is None:
        return
    names: set[str] = set()
    for user in console.users:
        unknown = [s for s in user.services if s != "*" and s not in services]
        if unknown:
            raise ValueError(f"console user {user.name!r}: unknown services {', '.join(unknown)}")
        if user.name in names:
            raise ValueError(f"console user {user.name!r} is listed twice")
        names.add(user.name)
