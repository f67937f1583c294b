"""Request and response bodies of the native API. msgspec Structs: strict decoding
(unknown fields are errors) and the schemas in openapi.yaml come from these."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from verify_service.domain.model import SendStatus, StatusName
from verify_service.domain.templates import MAX_TEMPLATE_LENGTH
from verify_service.domain.tokens import (
    MAX_EXPIRES_IN,
    MAX_LENGTH,
    MIN_EXPIRES_IN,
    MIN_LENGTH,
    TokenType,
)

MetaKey = Annotated[str, Meta(min_length=1, max_length=64)]
MetaValue = Annotated[str, Meta(max_length=256)]


class StartRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=32,
            description="Phone number; national numbers use the default region.",
        ),
    ]
    channel: Literal["sms"] = "sms"
    token_type: TokenType | None = None
    token_length: Annotated[int, Meta(ge=MIN_LENGTH, le=MAX_LENGTH)] | None = None
    expires_in: (
        Annotated[int, Meta(ge=MIN_EXPIRES_IN, le=MAX_EXPIRES_IN, description="Seconds.")] | None
    ) = None
    template: (
        Annotated[
            str,
            Meta(min_length=1, max_length=MAX_TEMPLATE_LENGTH, description="Must contain %TOKEN%."),
        ]
        | None
    ) = None
    locale: (
        Annotated[
            str,
            Meta(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$"),
        ]
        | None
    ) = None
    metadata: Annotated[dict[MetaKey, MetaValue], Meta(max_length=10)] | None = None


class CheckRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: Annotated[str, Meta(min_length=1, max_length=64)]
    to: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    verification_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None


# RFC 3339, UTC, milliseconds: domain/timestamps.py
Timestamp = Annotated[str, Meta(extra_json_schema={"extra": {"format": "date-time"}})]


class SendAttemptOut(msgspec.Struct, kw_only=True):
    at: Timestamp
    provider: str
    message_id: str | None
    status: SendStatus
    error: str | None


class VerificationOut(msgspec.Struct, kw_only=True):
    id: str
    service: str
    to: str
    channel: str
    status: StatusName
    token_type: TokenType
    token_length: int
    created_at: Timestamp
    expires_at: Timestamp
    check_attempts: int
    max_check_attempts: int
    attempts_remaining: int
    send_attempts: list[SendAttemptOut]
    metadata: dict[str, str]


class CheckOut(msgspec.Struct, kw_only=True):
    id: str
    status: StatusName
    valid: bool
    attempts_remaining: int


class Problem(msgspec.Struct, kw_only=True):
    type: str
    title: str
    status: int
    detail: str
    code: str


class HealthOut(msgspec.Struct, kw_only=True):
    status: Literal["ok"]
