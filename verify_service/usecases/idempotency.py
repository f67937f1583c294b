"""Idempotent starts (`Idempotency-Key`) and the JSON form of a `Verification`.

The same key within 24 h returns the first answer and sends nothing; the same key with
another body is an error rather than a silent replay of something else. The answer is kept
as the verification's JSON, the same JSON status events carry (`verification_to_json`)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from verify_service.domain.errors import VerifyError
from verify_service.domain.model import SendAttempt, Status, TokenType, Verification
from verify_service.domain.timestamps import rfc3339
from verify_service.store import Store
from verify_service.store.verifications import IdempotentAnswer


def verification_to_json(v: Verification) -> dict[str, Any]:
    """The verification as a JSON object: its fields by name, dates as `rfc3339`,
    send attempts as `SendAttempt.to_json`."""
    return {
        "id": v.id,
        "service": v.service,
        "to": v.to,
        "channel": v.channel,
        "status": v.status.value,
        "token_type": v.token_type.value,
        "token_length": v.token_length,
        "created_at": rfc3339(v.created_at),
        "expires_at": rfc3339(v.expires_at),
        "check_attempts": v.check_attempts,
        "max_check_attempts": v.max_check_attempts,
        "attempts_remaining": v.attempts_remaining,
        "send_attempts": [attempt.to_json() for attempt in v.send_attempts],
        "metadata": dict(v.metadata),
        "updated_at": rfc3339(v.updated_at) if v.updated_at else None,
    }


def verification_from_json(data: dict[str, Any]) -> Verification:
    """The inverse of `verification_to_json`. Raises KeyError or ValueError for anything
    it did not write."""
    updated_at = data.get("updated_at")
    return Verification(
        id=data["id"],
        service=data["service"],
        to=data["to"],
        channel=data["channel"],
        status=Status(data["status"]),
        token_type=TokenType(data["token_type"]),
        token_length=data["token_length"],
        created_at=datetime.fromisoformat(data["created_at"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        check_attempts=data["check_attempts"],
        max_check_attempts=data["max_check_attempts"],
        attempts_remaining=data["attempts_remaining"],
        send_attempts=tuple(SendAttempt.from_json(a) for a in data.get("send_attempts", ())),
        metadata=dict(data.get("metadata") or {}),
        updated_at=datetime.fromisoformat(updated_at) if updated_at else None,
    )


async def start_once(
    store: Store,
    service: str,
    key: str,
    body: bytes,
    start: Callable[[], Awaitable[Verification]],
) -> Verification:
    """Run `start` once per (service, key): later calls with the same `body` get its answer
    back. Raises VerifyError `idempotency_key_reused` (same key, other body) or
    `idempotency_in_progress` (the first call has not answered yet); a start that raises
    releases the key, so the request can be retried."""
    fingerprint = hashlib.sha256(body).hexdigest()
    claimed = await store.idempotency_claim(service, key, fingerprint)
    if isinstance(claimed, IdempotentAnswer):
        if claimed.fingerprint != fingerprint:
            raise VerifyError(
                "idempotency_key_reused", "this Idempotency-Key was used with another body"
            )
        return verification_from_json(claimed.body)
    if isinstance(claimed, str):
        code = "idempotency_in_progress" if claimed == fingerprint else "idempotency_key_reused"
        raise VerifyError(code, "this Idempotency-Key is in use by another request")
    try:
        verification = await start()
    except BaseException:
        await store.idempotency_release(service, key)
        raise
    await store.idempotency_store(
        service, key, IdempotentAnswer(fingerprint, 201, verification_to_json(verification), {})
    )
    return verification
