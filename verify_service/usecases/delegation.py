"""Delegated mode: the provider (a `TokenValidator`) makes, sends and checks the code.

The verification record is the same as in the hashed path, except that each send stores a
*marker* where a code hash would be: it keeps the send/withdraw bookkeeping of the store
scripts working (a failed send withdraws its own marker), it is not an argon2 hash so
`CodeHasher.matches` can never approve it, and it tells `check` to ask the provider."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from verify_service.domain.errors import VerifyError
from verify_service.domain.tokens import TokenType, normalize_code
from verify_service.providers.base import ProviderError, TokenRequest, TokenValidator
from verify_service.providers.router import Delivery, DeliveryAttempt

log = logging.getLogger("verify_service.delivery")

MARKER_PREFIX = "delegated:"


def marker() -> str:
    # Unique per send, so that withdrawing a failed send leaves the earlier ones in place.
    return MARKER_PREFIX + secrets.token_hex(8)


def is_delegated(code_hashes: Sequence[str]) -> bool:
    return any(h.startswith(MARKER_PREFIX) for h in code_hashes)


async def start(validator: TokenValidator, request: TokenRequest) -> Delivery:
    """One attempt, no failover: a delegating provider is a service's only provider."""
    started = time.perf_counter()
    at = datetime.now(UTC)
    try:
        result = await validator.start_token(request)
    except ProviderError as exc:
        log.warning(
            "token start failed",
            extra={"provider": validator.name, "error": exc.reason, "retryable": exc.retryable},
        )
        attempt = DeliveryAttempt(at, validator.name, None, "failed", exc.reason)
        return Delivery([attempt], sent=False, recipient_invalid=exc.recipient_invalid)
    log.info(
        "token start ok",
        extra={
            "provider": validator.name,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return Delivery([DeliveryAttempt(at, validator.name, result.message_id, "sent")], sent=True)


async def check(validator: TokenValidator | None, to: str, typed: str) -> bool:
    """Ask the provider. The attempt was reserved before this call and stays counted when
    the provider cannot answer: an outage must not become unlimited guessing."""
    if validator is None:  # the service no longer delegates: nothing here can approve
        return False
    # Separators only: the token and its case rules are the provider's, not ours.
    code = normalize_code(TokenType.ALPHANUMERIC_MIXED, typed)
    try:
        return await validator.check_token(to, code)
    except ProviderError as exc:
        raise VerifyError(
            "provider_unavailable", f"{validator.name} could not check the code: {exc.reason}"
        ) from None
