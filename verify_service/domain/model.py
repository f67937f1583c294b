"""The domain model: what a verification is, what starting one takes, what a check answers.

Plain frozen dataclasses and enums, no I/O: the use cases build them from the store's
records, the API dialects map them to their own shapes. Times are timezone-aware UTC
`datetime`s; durations are whole seconds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from verify_service.domain.timestamps import rfc3339
from verify_service.domain.tokens import TokenType

__all__ = [
    "CheckResult",
    "SendAttempt",
    "SendStatus",
    "StartParams",
    "Status",
    "StatusName",
    "TokenType",
    "Verification",
]

StatusName = Literal["pending", "approved", "canceled", "expired", "max_attempts_reached", "failed"]


class Status(StrEnum):
    """The life of a verification. `pending` is the only state that changes: to `approved`
    (right code, or approved by the backend), `canceled`, `expired` (its `expires_at` has
    passed), `max_attempts_reached` (every check attempt used) or `failed` (no provider
    took the code). The others are final."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    EXPIRED = "expired"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    FAILED = "failed"

    @property
    def name_literal(self) -> StatusName:
        """The same word as a `Literal`, for response schemas that list the values inline."""
        return _LITERALS[self]


_LITERALS: dict[Status, StatusName] = {
    Status.PENDING: "pending",
    Status.APPROVED: "approved",
    Status.CANCELED: "canceled",
    Status.EXPIRED: "expired",
    Status.MAX_ATTEMPTS_REACHED: "max_attempts_reached",
    Status.FAILED: "failed",
}

# `sent` and `failed` when the attempt is made; `delivered` and `undelivered` later, from
# the provider's delivery report (DLR).
SendStatus = Literal["sent", "failed", "delivered", "undelivered"]
_SEND_STATUSES: frozenset[str] = frozenset(("sent", "failed", "delivered", "undelivered"))


@dataclass(frozen=True, slots=True)
class SendAttempt:
    """One try to hand the code to a provider, as recorded on the verification.

    `at` is when the try started (UTC); `message_id` is the provider's id when it took the
    message (None otherwise); `error` says why a try failed or, for `undelivered`, the
    provider's status word (None when there is nothing to say)."""

    at: datetime
    provider: str
    message_id: str | None
    status: SendStatus
    error: str | None = None

    @property
    def at_text(self) -> str:
        """`at` as the API shows it: ISO 8601, milliseconds, `Z`."""
        return rfc3339(self.at)

    def to_json(self) -> dict[str, Any]:
        """The stored and published shape: `{"at", "provider", "message_id", "status",
        "error"}`, `at` as `at_text`."""
        return {
            "at": self.at_text,
            "provider": self.provider,
            "message_id": self.message_id,
            "status": self.status,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SendAttempt:
        """The inverse of `to_json`. Raises ValueError for an unknown status or a date that
        is not ISO 8601."""
        status = data["status"]
        if status not in _SEND_STATUSES:
            raise ValueError(f"not a send attempt status: {status!r}")
        return cls(
            at=datetime.fromisoformat(data["at"]),
            provider=str(data["provider"]),
            message_id=data.get("message_id"),
            status=status,
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """One verification as its owner sees it (never the code or its hash).

    `status` is judged on the store's clock at the moment of the read: a pending
    verification past `expires_at` reads `expired`. `attempts_remaining` is the number of
    checks left while pending, 0 otherwise. `updated_at` is None only in answers replayed
    from records made before it existed."""

    id: str
    service: str
    to: str  # E.164
    channel: str
    status: Status
    token_type: TokenType
    token_length: int
    created_at: datetime
    expires_at: datetime
    check_attempts: int
    max_check_attempts: int
    attempts_remaining: int
    send_attempts: tuple[SendAttempt, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check answered. `status` is the outcome of this check, which can differ
    from `verification.status` when a parallel check ended the verification meanwhile;
    `valid` is true only for the check that approved it; `verification` is the record as
    the check left it (the Twilio dialect shows its number and dates)."""

    verification: Verification
    status: Status
    valid: bool
    attempts_remaining: int

    @property
    def id(self) -> str:
        return self.verification.id


@dataclass(frozen=True, slots=True, kw_only=True)
class StartParams:
    """What a start asks for, in any dialect. None means the service's default.

    `to` is a phone number as typed (national numbers use the configured default region);
    `expires_in` is in seconds; `template` must contain `%TOKEN%`; `locale` picks one of
    the service's templates and wins over `accept_language` (the raw Accept-Language
    header); `client_ip` is the caller's address, for per-client rate limits."""

    to: str
    channel: str = "sms"
    token_type: TokenType | None = None
    token_length: int | None = None
    expires_in: int | None = None
    template: str | None = None
    locale: str | None = None
    metadata: Mapping[str, str] | None = None
    accept_language: str | None = None
    client_ip: str | None = None
