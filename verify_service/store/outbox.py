"""The test outbox in Redis: what the `capture` provider "sent", per number.

It lives in the store rather than in the provider's memory so that with several workers a
test reads the message whichever worker sent it. Only with test_mode (the settings refuse a
capture provider otherwise): these are the only plaintext codes ever written to Redis, and
they are test codes. Each list is capped and expires, like every key."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from redis.exceptions import RedisError

from verify_service.domain.errors import VerifyError
from verify_service.store import keys
from verify_service.store.connect import RedisClient

KEEP_PER_NUMBER = 50
TTL_SECONDS = 3600


class OutboxStore:
    def __init__(self, client: RedisClient) -> None:
        self.client = client
        script = resources.files("verify_service.store").joinpath("scripts/outbox_push.lua")
        self._push = client.register_script(script.read_text())

    async def push(self, to: str, message: dict[str, Any]) -> None:
        try:
            await self._push(
                keys=[keys.outbox_key(to)],
                args=[json.dumps(message, separators=(",", ":")), KEEP_PER_NUMBER, TTL_SECONDS],
            )
        except RedisError as exc:
            raise VerifyError("store_unavailable", "the test outbox did not answer") from exc

    async def newest_first(self, to: str) -> list[dict[str, Any]]:
        try:
            raw = await self.client.lrange(keys.outbox_key(to), 0, -1)
        except RedisError as exc:
            raise VerifyError("store_unavailable", "the test outbox did not answer") from exc
        return [json.loads(item) for item in raw]
