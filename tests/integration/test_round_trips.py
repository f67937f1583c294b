"""One Redis round trip per state change, counted by the server itself (MONITOR)."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

from tests.support.abuse_helpers import GUARD_OFF, NO_LIMITS
from tests.support.helpers import sent_code
from tests.support.monitor import monitored
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_verifications
from verify_service.config import Settings
from verify_service.store import Store

TO = "+41791234567"


async def test_each_state_change_is_one_command(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    # the verification store alone; the abuse counters are counted in test_abuse_round_trips
    no_abuse = {"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF}
    verifs = build_verifications(make_settings(service=no_abuse), store)
    service = verifs.settings.services[0]
    async with monitored(redis_server.url, client) as log:
        commands_of = log.commands_of
        # start = the creation, then the send outcome: two state changes, two scripts; the SET
        # is the message-id index for delivery reports, pipelined with the second script (one
        # round trip: see test_delivery_reports.py)
        assert await commands_of(verifs.start(service, to=TO)) == ["EVALSHA", "EVALSHA", "SET"]
        code = sent_code(verifs, TO)
        wrong = "".join("1" if c != "1" else "2" for c in code)
        # a wrong check: reserve only
        assert await commands_of(verifs.check(service, to=TO, code=wrong)) == ["EVALSHA"]
        # a right check: reserve, then approve
        assert await commands_of(verifs.check(service, to=TO, code=code)) == ["EVALSHA", "EVALSHA"]
        started = await verifs.start(service, to="+41791234568")
        # fetch and cancel: one each
        assert await commands_of(verifs.fetch(service, started.id)) == ["EVALSHA"]
        assert await commands_of(verifs.cancel(service, started.id)) == ["EVALSHA"]
        # approval by the backend (Twilio's Status=approved): one
        started = await verifs.start(service, to="+41791234569")
        assert await commands_of(verifs.approve(service, started.id)) == ["EVALSHA"]

    await store.aclose()
