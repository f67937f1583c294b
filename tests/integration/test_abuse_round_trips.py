"""What abuse protection costs in Redis commands, counted by the server (MONITOR): one
EVALSHA per rate-limit window and one for the pumping guard, and nothing else."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

from tests.support.helpers import sent_code
from tests.support.monitor import monitored
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.config import Settings
from verify_service.domain.model import StartParams
from verify_service.store import Store

TO = "+41791234567"


async def test_default_policy_commands_per_start_and_check(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    limits = {"checks_per_ip": ["30/minute"]}  # defaults plus one window on checks
    verifs = build_components(make_settings(service={"rate_limits": limits}), store)
    service = verifs.settings.services[0]
    # once through each path first: scripts load on their first use (NOSCRIPT, SCRIPT LOAD)
    await verifs.verifications.start(service, StartParams(to="+41791234500"))
    code = sent_code(verifs, "+41791234500")
    await verifs.verifications.check(service, to="+41791234500", code=code, client_ip="203.0.113.9")
    async with monitored(redis_server.url, client) as log:
        commands_of = log.commands_of
        # per_number (2 windows) + per_country + global_sends + pumping guard, then the
        # verification's own two (create; send outcome pipelined with its message-id index),
        # and the attempt log's write alongside the send outcome (order between them not fixed)
        started = await commands_of(
            verifs.verifications.start(service, StartParams(to=TO, client_ip="203.0.113.1"))
        )
        assert sorted(started) == ["EVALSHA"] * (5 + 2 + 1) + ["SET"]
        code = sent_code(verifs, TO)
        # checks_per_ip, reserve, approve, the approval for the pumping guard, the conversion
        check = verifs.verifications.check(service, to=TO, code=code, client_ip="203.0.113.1")
        assert await commands_of(check) == ["EVALSHA"] * 5

    await store.aclose()
