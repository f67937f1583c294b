"""A delivery report finds its send through the message-id index; the attempt log's record
of that send must exist by then, or the report is never counted there (the log's record
stays `sent`). On one server the send's record, the log's record and the index are one
script; on a Cluster (`one_slot_per_call`) the index is written after both records.

Here the attempt log's write is slow (a busy connection, another client's turn) and the
provider reports the very moment the message can be found: before this change, the index
was written beside the send's record while the log's write ran on its own, so such a
report changed the verification's attempt but not the log's record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.abuse_helpers import GUARD_OFF, NO_LIMITS
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import Settings
from verify_service.domain.attempts import AttemptFilter
from verify_service.domain.model import StartParams
from verify_service.providers.base import DeliveryReport
from verify_service.store import Store
from verify_service.store.scripts import Scripts

pytestmark = pytest.mark.redis

TO = "+41791234567"


async def _report_when_findable(client: aioredis.Redis, v: Components) -> str:
    """Poll for the message-id index; report the message delivered at once; its id."""
    for _ in range(5000):
        found = await client.keys("vs:msg:*")
        if found:
            verification_id = str(await client.get(found[0]))
            message_id = f"{verification_id}.1"  # the capture provider's: our reference
            await v.reports.apply("capture", [DeliveryReport(message_id, "delivered")])
            return verification_id
        await asyncio.sleep(0.001)
    raise AssertionError("the message was never indexed")


@pytest.mark.parametrize("one_slot_per_call", [False, True], ids=["one server", "cluster"])
async def test_a_report_as_soon_as_the_message_is_findable_is_counted(
    redis_server: RedisServer,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    one_slot_per_call: bool,
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    store.one_slot_per_call = one_slot_per_call
    await store.load_scripts()
    v = build_components(
        make_settings(service={"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF}), store
    )
    service = v.settings.services[0]
    run = Scripts.run

    async def slow_log(self: Scripts, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if name == "attempts_add":  # the attempt log's write on a call of its own
            await asyncio.sleep(0.2)
        return await run(self, name, keys, args)

    monkeypatch.setattr(Scripts, "run", slow_log)
    reporter = asyncio.create_task(_report_when_findable(client, v))
    started = await v.verifications.start(service, StartParams(to=TO))
    assert await reporter == started.id
    fetched = await v.verifications.fetch(service, started.id)
    assert [a.status for a in fetched.send_attempts] == ["delivered"]
    page = await v.attempts.list(service, AttemptFilter(to=TO))
    assert [(a.status, a.reported_at is not None) for a in page.attempts] == [("delivered", True)]
    await store.aclose()
