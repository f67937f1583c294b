"""Delivery reports: the webhook, its secret, and the send attempt each report updates,
on both stores."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from tests.conftest import API_KEY, config
from tests.support.abuse_helpers import GUARD_OFF, NO_LIMITS
from tests.support.fake_providers import ScriptedProvider, fake_kinds, unavailable
from tests.support.fake_swisscom import FakeSwisscom
from tests.support.helpers import Api, open_api
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.config import ConfigError, Settings, settings_from_mapping
from verify_service.domain.model import StartParams
from verify_service.store import Store, keys

__all__ = ["fake_kinds"]
pytestmark = pytest.mark.usefixtures("fake_kinds")

TO = "+41791234567"
SECRET_A = "a-reports-0123456789abcdef"
SECRET_B = "b-reports-0123456789abcdef"
ENV = {"A_REPORTS": SECRET_A, "B_REPORTS": SECRET_B}
PROVIDERS = {
    "a": {"kind": "scripted", "retries": 0, "report_secret": "env:A_REPORTS"},
    "b": {"kind": "scripted", "report_secret": "env:B_REPORTS"},
    "quiet": {"kind": "scripted"},  # no report_secret: takes no reports
}


@pytest.fixture
def app(store: Store) -> Callable[[], AbstractAsyncContextManager[Api]]:
    settings = settings_from_mapping(
        config(providers=PROVIDERS, service={"providers": ["a", "b"]}), environ=ENV
    )
    return lambda: open_api(settings, store, API_KEY)


def scripted(api: Api, name: str) -> ScriptedProvider:
    provider = api.components.providers[name]
    assert isinstance(provider, ScriptedProvider)
    return provider


async def report(api: Api, provider: str, secret: str, body: Any, **kwargs: Any) -> Any:
    return await api.client.post(f"/v1/providers/{provider}/reports/{secret}", json=body, **kwargs)


async def send_statuses(api: Api, verification_id: str) -> list[tuple[str, str, str | None]]:
    r = await api.get(f"/v1/verifications/{verification_id}")
    return [(a["provider"], a["status"], a["error"]) for a in r.json()["send_attempts"]]


async def start(api: Api) -> str:
    r = await api.post("/v1/verifications", {"to": TO})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_delivered_report_marks_the_send(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        r = await report(api, "a", SECRET_A, [{"id": "a-1", "status": "delivered"}])
        assert r.status_code == 200
        assert r.json() == {"statusCode": 2000, "statusMessage": "OK"}  # the provider's ack
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]


async def test_undelivered_then_delivered_out_of_order(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        body = [{"id": "a-1", "status": "undelivered", "detail": "expired"}]
        await report(api, "a", SECRET_A, body)
        assert await send_statuses(api, verification_id) == [("a", "undelivered", "expired")]
        await report(api, "a", SECRET_A, [{"id": "a-1", "status": "delivered"}])
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]
        # "delivered" is proof: a late "undelivered" does not undo it
        await report(api, "a", SECRET_A, [{"id": "a-1", "status": "undelivered"}])
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]


async def test_a_report_updates_only_its_own_providers_attempt(app: Any) -> None:
    async with app() as api:
        scripted(api, "a").plan = [unavailable()]
        verification_id = await start(api)
        assert await send_statuses(api, verification_id) == [
            ("a", "failed", "HTTP 503: unavailable"),
            ("b", "sent", None),
        ]
        # b's message id reported through a's hook means nothing: ids are per provider
        r = await report(api, "a", SECRET_A, [{"id": "b-1", "status": "delivered"}])
        assert r.status_code == 200
        assert (await send_statuses(api, verification_id))[1][1] == "sent"
        r = await report(api, "b", SECRET_B, [{"id": "b-1", "status": "delivered"}])
        assert await send_statuses(api, verification_id) == [
            ("a", "failed", "HTTP 503: unavailable"),
            ("b", "delivered", None),
        ]


async def test_wrong_missing_or_unknown_secret_is_a_bare_404(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        delivered = [{"id": "a-1", "status": "delivered"}]
        answers = [
            await report(api, "a", SECRET_B, delivered),  # another provider's secret
            await report(api, "a", SECRET_A[:-1] + "X", delivered),
            await report(api, "quiet", SECRET_A, delivered),  # no secret configured
            await report(api, "nobody", SECRET_A, delivered),  # no such provider
            await api.client.post("/v1/no/such/route", json=delivered),
        ]
        assert {r.status_code for r in answers} == {404}
        assert len({r.text for r in answers}) == 1  # nothing tells them apart
        assert "a-1" not in answers[0].text
        assert await send_statuses(api, verification_id) == [("a", "sent", None)]


async def test_unknown_message_ids_are_accepted_and_ignored(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        body = [
            {"id": "a-999", "status": "delivered"},
            {"id": "a-1", "status": "delivered"},
            {"id": "never-sent", "status": "undelivered"},
        ]
        r = await report(api, "a", SECRET_A, body)
        assert r.status_code == 200
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]
        metrics = (await api.client.get("/metrics")).text
        assert 'verify_delivery_reports_total{effect="unknown",provider="a"' in metrics


async def test_a_large_batch_is_applied_in_order(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        noise = [{"id": f"elsewhere-{n:05d}", "status": "delivered"} for n in range(400)]
        body = [
            *noise,
            {"id": "a-1", "status": "undelivered", "detail": "queued too long"},
            {"id": "a-1", "status": "delivered"},
        ]
        r = await report(api, "a", SECRET_A, body)
        assert len(r.request.content) > 16 * 1024  # more than a start request may carry
        assert r.status_code == 200
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]


async def test_a_malformed_body_is_400(app: Any) -> None:
    async with app() as api:
        await start(api)
        for body in ({"not": "a list"}, [{"status": "delivered"}]):
            r = await report(api, "a", SECRET_A, body)
            assert r.status_code == 400
            assert r.json()["code"] == "invalid_request"
        r = await api.client.post(f"/v1/providers/a/reports/{SECRET_A}", content=b"{not json")
        assert r.status_code == 400


async def test_headers_reach_the_provider_swisscom_put_with_location(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        r = await api.client.put(
            f"/v1/providers/a/reports/{SECRET_A}",
            json={"status": "DELIVERED"},
            headers={"Location": "https://api.example/messaging/sms/a-1"},
        )
        assert r.status_code == 200
        assert await send_statuses(api, verification_id) == [("a", "delivered", None)]
        r = await api.client.get(f"/v1/providers/a/reports/{SECRET_A}")
        assert r.status_code == 405


async def test_reports_still_land_after_the_verification_is_approved(app: Any) -> None:
    async with app() as api:
        verification_id = await start(api)
        code = scripted(api, "a").last_code()
        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["status"] == "approved"
        await report(api, "a", SECRET_A, [{"id": "a-1", "status": "delivered"}])
        r = await api.get(f"/v1/verifications/{verification_id}")
        assert r.json()["status"] == "approved"
        assert r.json()["send_attempts"][0]["status"] == "delivered"


async def test_the_message_index_expires_with_the_verification(app: Any) -> None:
    async with app() as api:
        await start(api)
        key = keys.message_key("a", "a-1")
        assert key.startswith("vs:msg:{")
        assert key.endswith("}")
        client = api.components.store.client
        ttl = api.client.blocking_portal.call(client.pttl, key)
        retention = api.components.settings.retention
        assert (600 + retention - 5) * 1000 < ttl <= (600 + retention) * 1000


def test_report_secret_must_come_from_the_environment() -> None:
    literal = {"a": {"kind": "scripted", "report_secret": SECRET_A}}
    with pytest.raises(ConfigError, match=r"providers\.a\.report_secret"):
        settings_from_mapping(config(providers=literal, service={"providers": ["a"]}), {})
    missing = {"a": {"kind": "scripted", "report_secret": "env:NOT_SET"}}
    with pytest.raises(ConfigError, match="NOT_SET"):
        settings_from_mapping(config(providers=missing, service={"providers": ["a"]}), {})


async def test_the_start_path_stays_two_round_trips(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """The index write rides in the same script as the send outcome and the attempt
    log's records: counted on the wire (each round trip is one write of packed commands
    to the socket, then its answer read)."""
    store = Store(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
    await store.load_scripts()
    # the verification's own round trips; the abuse counters are counted in their own test
    no_abuse = {"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF}
    components = build_components(make_settings(service=no_abuse), store)
    verifications = components.verifications
    service = components.settings.services[0]
    await verifications.start(service, StartParams(to="+41791234500"))  # the connection is open
    writes: list[bytes] = []
    events: list[str] = []
    original = Connection.send_packed_command
    original_read = Connection.read_response

    async def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        writes.append(b"".join(command) if isinstance(command, list) else bytes(command))
        events.append("write")
        await original(self, command, check_health)

    async def reading(self: Connection, *args: Any, **kwargs: Any) -> Any:
        reply = await original_read(self, *args, **kwargs)
        events.append("read")
        return reply

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Connection, "send_packed_command", counting)
        patch.setattr(Connection, "read_response", reading)
        await verifications.start(service, StartParams(to=TO))
    # the start, then one EVALSHA with the send outcome, the attempt log's records (issue
    # 17) and the message-id index: two round trips, one after the other
    assert len(writes) == 2
    send_outcome = writes[1]
    assert b"EVALSHA" in send_outcome
    assert b"vs:msg:{" in send_outcome
    assert b"vs:att:{" in send_outcome
    assert events == ["write", "read", "write", "read"], events
    await store.aclose()


async def test_swisscom_sms_reports_end_to_end(store: Store) -> None:
    """The real `swisscom_sms` kind: its id from `Location` on send, its PUT callback with
    the id in `Location` again, through the webhook."""
    fake = FakeSwisscom().start()
    try:
        providers = {
            "swisscom": {
                "kind": "swisscom_sms",
                "base_url": fake.url,
                "client_id": fake.client_id,
                "report_secret": "env:SWISSCOM_REPORTS",
            }
        }
        settings = settings_from_mapping(
            config(providers=providers, service={"providers": ["swisscom"]}),
            environ={"SWISSCOM_REPORTS": SECRET_A},
        )
        async with open_api(settings, store, API_KEY) as api:
            verification_id = await start(api)
            [attempt] = (await api.get(f"/v1/verifications/{verification_id}")).json()[
                "send_attempts"
            ]
            r = await api.client.put(
                f"/v1/providers/swisscom/reports/{SECRET_A}",
                json={"status": "DeliveredToTerminal"},
                headers={"Location": f"/messaging/sms/{attempt['message_id']}"},
            )
            assert r.status_code == 200
            assert await send_statuses(api, verification_id) == [("swisscom", "delivered", None)]
    finally:
        fake.stop()
