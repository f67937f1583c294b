"""The domain model: status words as the schemas list them, and send attempts read back as
they were written, in the exact JSON stored in Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.model import (
    SendAttempt,
    SendStatus,
    Status,
    StatusName,
)

# Stored times have millisecond precision.
MS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
TEXT = st.text(max_size=20)
ATTEMPTS = st.builds(
    SendAttempt,
    at=MS,
    provider=st.text(min_size=1, max_size=10),
    message_id=st.none() | TEXT,
    status=st.sampled_from(get_args(SendStatus)),
    error=st.none() | TEXT,
)


def test_status_words_are_the_literal_the_schemas_list() -> None:
    assert [s.value for s in Status] == list(get_args(StatusName))
    assert all(s.name_literal == s.value for s in Status)


def test_a_send_attempt_is_stored_as_before_plus_its_channel() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    attempt = SendAttempt(at, "websms", "m-1", "sent")
    assert json.dumps(attempt.to_json(), separators=(",", ":")) == (
        '{"at":"2024-05-01T12:00:00.123Z","provider":"websms","message_id":"m-1",'
        '"status":"sent","error":null,"channel":"sms"}'
    )


def test_a_send_attempt_stored_before_channels_reads_as_sms() -> None:
    stored = json.loads(
        '{"at":"2024-05-01T12:00:00.123Z","provider":"websms","message_id":"m-1",'
        '"status":"sent","error":null}'
    )
    assert SendAttempt.from_json(stored).channel == "sms"


@given(ATTEMPTS)
def test_send_attempts_read_back_as_written(attempt: SendAttempt) -> None:
    data = json.loads(json.dumps(attempt.to_json()))
    assert SendAttempt.from_json(data) == attempt
    assert SendAttempt.from_json(data).to_json() == attempt.to_json()


def test_an_unknown_send_status_is_refused() -> None:
    data = SendAttempt(datetime.now(UTC), "p", None, "sent").to_json()
    data["status"] = "queued"
    with pytest.raises(ValueError, match="queued"):
        SendAttempt.from_json(data)
