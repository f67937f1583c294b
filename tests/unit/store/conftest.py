"""Store-level helpers: a verification started straight through `Store.start`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.conftest import TAG_KEY
from verify_service.store import Store, keys

TO = "+41791234567"
TAG = keys.tag_for(TAG_KEY, "login", TO)
RETENTION = 3600

StartOne = Callable[..., Awaitable[str]]


@pytest.fixture
def start_one(store: Store) -> StartOne:
    """Create a pending verification of ("login", TO); its id. 600 s to live, then
    RETENTION; the code hash is "h"."""

    async def start(*, max_check_attempts: int = 2) -> str:
        new_id = keys.new_id(TAG)
        started = await store.start(
            tag=TAG,
            new_id=new_id,
            service="login",
            to=TO,
            expires_in=600,
            max_check_attempts=max_check_attempts,
            max_send_attempts=3,
            resend_cooldown=0,
            retention=RETENTION,
            token_type="numeric",
            token_length=6,
            channel="sms",
            metadata={},
        )
        assert started.outcome == "created"
        # start reserves the send; the hash comes with its outcome (issue 15.2)
        await store.record_sends(
            tag=TAG,
            verification_id=new_id,
            attempts=[],
            sent=True,
            code_hash="h",
            retention=RETENTION,
        )
        return new_id

    return start
