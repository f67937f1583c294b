"""The Verification JSON of idempotent answers and status events reads back as written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.domain.test_model import ATTEMPTS, MS, TEXT
from verify_service.domain.model import SendAttempt, Status, TokenType, Verification
from verify_service.usecases.idempotency import verification_from_json, verification_to_json


@given(
    status=st.sampled_from(Status),
    token_type=st.sampled_from(TokenType),
    created=MS,
    attempts=st.lists(ATTEMPTS, max_size=4),
    metadata=st.dictionaries(st.text(min_size=1, max_size=5), TEXT, max_size=3),
    updated=st.booleans(),
)
def test_verifications_read_back_as_written(
    status: Status,
    token_type: TokenType,
    created: datetime,
    attempts: list[SendAttempt],
    metadata: dict[str, str],
    updated: bool,
) -> None:
    v = Verification(
        id="ver_" + "a" * 32,
        service="login",
        to="+41791234567",
        channel="sms",
        status=status,
        token_type=token_type,
        token_length=6,
        created_at=created,
        expires_at=created + timedelta(seconds=600),
        check_attempts=1,
        max_check_attempts=5,
        attempts_remaining=4 if status is Status.PENDING else 0,
        send_attempts=tuple(attempts),
        metadata=metadata,
        updated_at=created + timedelta(seconds=1) if updated else None,
    )
    data = json.loads(json.dumps(verification_to_json(v)))
    assert data["status"] == status.value
    assert data["token_type"] == token_type.value
    assert verification_from_json(data) == v
