"""Baseline (b): a bare Litestar app answering the same JSON shapes as the service, with no
work behind them. Served the same way (same server, same workers) as the service."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Litestar, post

from verify_service.api.native.schemas import CheckOut, CheckRequest, StartRequest, VerificationOut

_NOW = datetime.now(UTC)


class _Empty(msgspec.Struct):
    pass


@post("/v1/verifications", status_code=201)
async def start(data: StartRequest) -> VerificationOut:
    return VerificationOut(
        id="ver_0123456789abcdef0123456789abcdef",
        service="bench",
        to=data.to,
        channel="sms",
        status="pending",
        token_type="numeric",  # type: ignore[arg-type]
        token_length=6,
        created_at=_NOW,
        expires_at=_NOW,
        check_attempts=0,
        max_check_attempts=5,
        attempts_remaining=5,
        send_attempts=[],
        metadata={},
    )


@post("/v1/verifications/check", status_code=200)
async def check(data: CheckRequest) -> CheckOut:
    return CheckOut(
        id="ver_0123456789abcdef0123456789abcdef",
        status="pending",
        valid=False,
        attempts_remaining=4,
    )


app = Litestar([start, check])
