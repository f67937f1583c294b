"""What the service answers, as frozen dataclasses (times as aware datetimes, UTC)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["CheckResult", "OutboxMessage", "SendAttempt", "Verification"]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class SendAttempt:
    at: datetime
    provider: str
    message_id: str | None
    status: str  # sent | failed | delivered | undelivered
    error: str | None
    channel: str = "sms"  # sms | whatsapp | voice | email

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SendAttempt:
        return cls(
            at=_time(data["at"]),
            provider=data["provider"],
            message_id=data.get("message_id"),
            status=data["status"],
            error=data.get("error"),
            channel=data.get("channel") or "sms",
        )


@dataclass(frozen=True, slots=True)
class Verification:
    id: str
    service: str
    to: str
    channel: str
    status: str  # pending | approved | canceled | expired | max_attempts_reached | failed
    token_type: str
    token_length: int
    created_at: datetime
    expires_at: datetime
    check_attempts: int
    max_check_attempts: int
    attempts_remaining: int
    send_attempts: tuple[SendAttempt, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        # Fields the server adds later are ignored rather than breaking older clients.
        return cls(
            id=data["id"],
            service=data["service"],
            to=data["to"],
            channel=data["channel"],
            status=data["status"],
            token_type=data["token_type"],
            token_length=data["token_length"],
            created_at=_time(data["created_at"]),
            expires_at=_time(data["expires_at"]),
            check_attempts=data["check_attempts"],
            max_check_attempts=data["max_check_attempts"],
            attempts_remaining=data["attempts_remaining"],
            send_attempts=tuple(SendAttempt.from_json(a) for a in data.get("send_attempts", [])),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: str
    valid: bool
    attempts_remaining: int

    @property
    def approved(self) -> bool:
        """True only for the check that approved the verification (not for a replay)."""
        return self.valid and self.status == "approved"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=data["id"],
            status=data["status"],
            valid=data["valid"],
            attempts_remaining=data["attempts_remaining"],
        )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message the service's `capture` provider kept (test_mode only)."""

    to: str
    text: str
    at: datetime
    message_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutboxMessage:
        return cls(data["to"], data["text"], _time(data["at"]), data["message_id"])
