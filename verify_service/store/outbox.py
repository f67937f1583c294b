"""The test outbox in Redis: what the `capture` provider "sent", per number.

It lives in the store rather than in the provider's memory so that with several workers a
test reads the message whichever worker sent it. Only with test_mode (the settings refuse a
capture provider otherwise): these are the only plaintext codes ever written to Redis, and
they are test codes. Each list is capped and expires, like every key (`keys.outbox_key`)."""

from __future__ import annotations

import json
from typing import Any

from verify_service.store import keys
from verify_service.store.connect import RedisClient
from verify_service.store.scripts import Scripts
from verify_service.store.verifications import deadline_for, store_call

KEEP_PER_NUMBER = keys.OUTBOX_KEEP
TTL_SECONDS = keys.OUTBOX_TTL
_WHAT = "the test outbox"


class OutboxStore:
    def __init__(self, client: RedisClient) -> None:
        self.client = client
        self.deadline = deadline_for(client)
        self._scripts = Scripts(client)

    async def push(self, to: str, message: dict[str, Any]) -> None:
        """Keep `message` (a JSON object) as the newest of `to`'s list. Raises
        VerifyError(store_unavailable) when Redis does not answer in time."""
        args = [json.dumps(message, separators=(",", ":")), KEEP_PER_NUMBER, TTL_SECONDS]
        with store_call(self.deadline, what=_WHAT):
            await self._scripts.run("outbox_push", [keys.outbox_key(to)], args)

    async def newest_first(self, to: str) -> list[dict[str, Any]]:
        """`to`'s kept messages, newest first ([] for none). Raises
        VerifyError(store_unavailable) when Redis does not answer in time."""
        with store_call(self.deadline, what=_WHAT):
            raw = await self.client.lrange(keys.outbox_key(to), 0, -1)
        return [json.loads(item) for item in raw]
