"""One Redis round trip per state change, counted by the server itself (MONITOR)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import redis.asyncio as aioredis

from tests.conftest import API_KEY
from tests.support.abuse_helpers import GUARD_OFF, NO_LIMITS, open_client
from tests.support.helpers import sent_code
from tests.support.monitor import monitored
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.config import Settings
from verify_service.domain.model import StartParams
from verify_service.store import Store

TO = "+41791234567"
# what redis-py sends when it opens a connection
CONNECTION_SETUP = ("HELLO", "CLIENT")


async def test_each_state_change_is_one_command(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    # the verification store alone; the abuse counters are counted in test_abuse_round_trips
    no_abuse = {"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF}
    verifs = build_components(make_settings(service=no_abuse), store)
    service = verifs.settings.services[0]
    async with monitored(redis_server.url, client) as log:
        commands_of = log.commands_of
        # start = the creation, then the send outcome: two state changes, two scripts; the
        # second also writes the attempt log's records and the message-id index for
        # delivery reports (one chain: a report never finds a send the log lacks)
        started = await commands_of(verifs.verifications.start(service, StartParams(to=TO)))
        assert [c for c in started if c not in CONNECTION_SETUP] == ["EVALSHA", "EVALSHA"]
        code = sent_code(verifs, TO)
        wrong = "".join("1" if c != "1" else "2" for c in code)
        # a wrong check: reserve only
        assert await commands_of(verifs.verifications.check(service, to=TO, code=wrong)) == [
            "EVALSHA"
        ]
        # a right check: reserve, then approve with the attempt log's conversion (one chain)
        assert await commands_of(verifs.verifications.check(service, to=TO, code=code)) == [
            "EVALSHA",
            "EVALSHA",
        ]
        started = await verifs.verifications.start(service, StartParams(to="+41791234568"))
        # fetch and cancel: one each
        assert await commands_of(verifs.verifications.fetch(service, started.id)) == ["EVALSHA"]
        assert await commands_of(verifs.verifications.cancel(service, started.id)) == ["EVALSHA"]
        # approval by the backend (Twilio's Status=approved): one, and the conversion
        started = await verifs.verifications.start(service, StartParams(to="+41791234569"))
        assert await commands_of(verifs.verifications.approve(service, started.id)) == [
            "EVALSHA",
            "EVALSHA",
        ]

    await store.aclose()


async def test_a_twilio_check_reads_the_verification_once(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """The VerificationCheck resource shows the number and dates: they come with the check's
    own answer (reserve, then approve), not from a second read."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    settings = make_settings(service={"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF})
    service = settings.services[0]
    raw = base64.b64encode(f"{service.twilio_account_sid}:{API_KEY}".encode()).decode()
    auth = {"Authorization": f"Basic {raw}"}
    path = f"/v2/Services/{service.twilio_service_sid}"
    async with open_client(settings, store, API_KEY) as api:
        started = await api.http.post(
            f"{path}/Verifications", data={"To": TO, "Channel": "sms"}, headers=auth
        )
        assert started.status_code == 201, started.text
        code = api.last_code(TO)
        async with monitored(redis_server.url, client) as log:
            checking = api.http.post(
                f"{path}/VerificationCheck", data={"To": TO, "Code": code}, headers=auth
            )
            # reserve, then approve with the attempt log's conversion (one chain)
            assert await log.commands_of(checking) == ["EVALSHA", "EVALSHA"]
        body = await api.http.post(
            f"{path}/VerificationCheck", data={"To": TO, "Code": code}, headers=auth
        )
        assert body.status_code == 404  # approved: Twilio's answer for an ended verification
    await store.aclose()
