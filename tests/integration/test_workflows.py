"""Fallback workflows end to end on the use cases, on fakeredis and a real redis-server:
sms -> whatsapp -> voice escalates on timeout and on an undelivered report, exactly once
across instances (and across a worker that lost its lease), never after an approval, a
cancel or the expiry, and after a restart. Time moves through the store's clock offset
(the one clock the due-queue and the verification scripts read)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import config
from tests.support.redis_server import RedisServer
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import ServiceSettings, Settings, settings_from_mapping
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams, WorkflowStep
from verify_service.providers.base import DeliveryReport
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store

TO = "+41791234567"
TIMEOUT = 60
CHANNELS: dict[str, Any] = {
    "providers": {
        "capture": {"kind": "capture"},
        "wa": {"kind": "capture"},
        "call": {"kind": "capture"},
        "mail": {"kind": "capture"},
    },
    "service": {
        "channels": {
            "whatsapp": {"providers": ["wa"], "template": "WhatsApp code %TOKEN%"},
            "voice": {"providers": ["call"], "template": "Your code is %TOKEN%"},
            "email": {"providers": ["mail"]},
        },
        "workflow": [
            {"channel": "sms", "timeout": TIMEOUT},
            {"channel": "whatsapp", "timeout": TIMEOUT},
            {"channel": "voice"},
        ],
    },
}


def channel_settings(**extra: Any) -> Settings:
    return settings_from_mapping(config(**CHANNELS, **extra), environ={})


@pytest.fixture
def make(store: Store) -> Callable[[], Components]:
    return lambda: build_components(channel_settings(), store)


def svc(c: Components) -> ServiceSettings:
    return c.settings.services[0]


def sent(c: Components, provider: str, to: str = TO) -> list[str]:
    p = c.providers[provider]
    assert isinstance(p, CaptureProvider)
    return [m.text for m in p.sent_to(to)]


def later(store: Store, seconds: int) -> None:
    store.clock_offset_ms += seconds * 1000


async def tick(c: Components) -> int:
    assert c.workflows is not None
    return await c.workflows.tick()


async def test_sms_then_whatsapp_then_voice_on_timeouts(
    make: Callable[[], Components], store: Store
) -> None:
    c = make()
    started = await c.verifications.start(svc(c), StartParams(to=TO))
    assert started.channel == "sms"
    assert await tick(c) == 0  # nothing due before the timeout
    later(store, TIMEOUT - 5)
    assert await tick(c) == 0
    assert sent(c, "wa") == []

    later(store, 6)
    assert await tick(c) == 1
    [whatsapp] = sent(c, "wa")
    assert whatsapp.startswith("WhatsApp code ")
    fetched = await c.verifications.fetch(svc(c), started.id)
    assert fetched.channel == "whatsapp"
    assert [a.channel for a in fetched.send_attempts] == ["sms", "whatsapp"]
    assert fetched.status == "pending"

    later(store, TIMEOUT + 1)
    assert await tick(c) == 1
    [voice] = sent(c, "call")
    code = whatsapp.rsplit(" ", 1)[1]
    assert voice.startswith("Your code is ")
    spoken = voice.removeprefix("Your code is ")
    assert spoken.replace(", ", "") != code  # a new code, read digit by digit
    assert spoken == ", ".join(spoken.replace(", ", ""))
    fetched = await c.verifications.fetch(svc(c), started.id)
    assert [a.channel for a in fetched.send_attempts] == ["sms", "whatsapp", "voice"]

    later(store, 2 * TIMEOUT)
    assert await tick(c) == 0  # the workflow ended with its last step
    assert [len(sent(c, p)) for p in ("capture", "wa", "call")] == [1, 1, 1]
    # The voice code approves (the earlier ones are still valid too, as after a resend).
    result = await c.verifications.check(
        svc(c), code=spoken.replace(", ", ""), verification_id=started.id
    )
    assert result.valid


@pytest.mark.parametrize("end", ["approve", "check", "cancel", "expire"])
async def test_nothing_more_after_the_verification_ends(
    make: Callable[[], Components], store: Store, end: str
) -> None:
    c = make()
    started = await c.verifications.start(svc(c), StartParams(to=TO))
    if end == "approve":
        await c.verifications.approve(svc(c), started.id)
    elif end == "check":
        code = sent(c, "capture")[-1].rsplit(" ", 1)[1]
        assert (await c.verifications.check(svc(c), code=code, to=TO)).valid
    elif end == "cancel":
        await c.verifications.cancel(svc(c), started.id)
    else:
        later(store, svc(c).expires_in)  # expiry comes first: nothing is due until then
    for _ in range(3):
        later(store, TIMEOUT + 1)
        await tick(c)
    assert sent(c, "wa") + sent(c, "call") == []
    assert c.workflows is not None
    assert await c.workflows.queue.entry(started.id) is None


async def test_an_undelivered_report_moves_on_at_once(make: Callable[[], Components]) -> None:
    c = make()
    started = await c.verifications.start(svc(c), StartParams(to=TO))
    message_id = started.send_attempts[-1].message_id
    assert message_id is not None
    changed = await c.reports.apply(
        "capture", [DeliveryReport(message_id, "undelivered", "EXPIRED")]
    )
    assert changed == 1
    assert await tick(c) == 1  # no time has passed
    assert len(sent(c, "wa")) == 1
    fetched = await c.verifications.fetch(svc(c), started.id)
    assert [(a.channel, a.status) for a in fetched.send_attempts] == [
        ("sms", "undelivered"),
        ("whatsapp", "sent"),
    ]
    # A late report about the old SMS does not skip the WhatsApp step's timeout.
    await c.reports.apply("capture", [DeliveryReport(message_id, "undelivered", "again")])
    assert await tick(c) == 0
    assert sent(c, "call") == []


async def test_a_delivered_report_changes_nothing(make: Callable[[], Components]) -> None:
    c = make()
    started = await c.verifications.start(svc(c), StartParams(to=TO))
    message_id = started.send_attempts[-1].message_id
    assert message_id is not None
    await c.reports.apply("capture", [DeliveryReport(message_id, "delivered")])
    assert await tick(c) == 0
    assert sent(c, "wa") == []


async def test_two_instances_escalate_each_verification_exactly_once(
    make: Callable[[], Components], store: Store
) -> None:
    first, second = make(), make()
    numbers = [f"+4179123{i:04d}" for i in range(12)]
    for number in numbers:
        await first.verifications.start(svc(first), StartParams(to=number))
    later(store, TIMEOUT + 1)
    for _ in range(3):
        await asyncio.gather(*(tick(c) for c in (first, second, first, second)))
    for number in numbers:
        whatsapps = sent(first, "wa", number) + sent(second, "wa", number)
        assert len(whatsapps) == 1, number
    # Both did some of the work (the queue shares it out), and neither sent a voice call.
    assert sent(first, "call", numbers[0]) + sent(second, "call", numbers[0]) == []


async def test_a_worker_that_lost_its_lease_does_not_send_again(
    make: Callable[[], Components], store: Store
) -> None:
    first, second = make(), make()
    started = await first.verifications.start(svc(first), StartParams(to=TO))
    later(store, TIMEOUT + 1)
    assert first.workflows is not None
    assert second.workflows is not None
    [claimed] = await first.workflows.queue.claim(10, lease_s=30)  # then first stalls
    later(store, 31)  # its lease has run out: the entry is due again
    assert await tick(second) == 1
    await first.workflows.step(claimed)  # first wakes up and tries the same step
    assert len(sent(first, "wa") + sent(second, "wa")) == 1
    fetched = await first.verifications.fetch(svc(first), started.id)
    assert [a.channel for a in fetched.send_attempts] == ["sms", "whatsapp"]
    # ...and the voice step is still queued, once, for TIMEOUT after the WhatsApp one.
    later(store, TIMEOUT + 1)
    assert await tick(first) + await tick(second) == 1
    assert len(sent(first, "call") + sent(second, "call")) == 1


async def test_a_request_workflow_replaces_the_services(make: Callable[[], Components]) -> None:
    c = make()
    steps = (WorkflowStep("voice", 30), WorkflowStep("sms"))
    started = await c.verifications.start(svc(c), StartParams(to=TO, workflow=steps))
    assert started.channel == "voice"
    assert len(sent(c, "call")) == 1
    assert sent(c, "capture") == []


async def test_a_named_channel_other_than_the_first_sends_once(
    make: Callable[[], Components], store: Store
) -> None:
    c = make()
    started = await c.verifications.start(svc(c), StartParams(to=TO, channel="whatsapp"))
    assert started.channel == "whatsapp"
    later(store, 10 * TIMEOUT)
    assert await tick(c) == 0
    assert sent(c, "call") + sent(c, "capture") == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (StartParams(to="alice@example.com", channel="sms"), "invalid_phone_number"),
        (StartParams(to=TO, channel="email"), "invalid_email_address"),
        (StartParams(to="not an address", channel="email"), "invalid_email_address"),
        (StartParams(to=TO, channel="fax"), "invalid_request"),
        (StartParams(to=TO, workflow=(WorkflowStep("fax"),)), "invalid_request"),
        (
            StartParams(to=TO, workflow=(WorkflowStep("sms"), WorkflowStep("voice"))),
            "invalid_request",
        ),
        (
            StartParams(to=TO, workflow=(WorkflowStep("sms", 30), WorkflowStep("email"))),
            "invalid_request",
        ),
        (StartParams(to=TO, channel="voice", workflow=(WorkflowStep("sms"),)), "invalid_request"),
    ],
)
async def test_bad_channel_input_is_refused_and_nothing_is_sent(
    make: Callable[[], Components], params: StartParams, code: str
) -> None:
    c = make()
    with pytest.raises(VerifyError) as caught:
        await c.verifications.start(svc(c), params)
    assert caught.value.code == code
    assert caught.value.status == 400
    for name in ("capture", "wa", "call", "mail"):
        p = c.providers[name]
        assert isinstance(p, CaptureProvider)
        assert p.messages == []


async def test_a_channel_the_service_does_not_enable_is_refused(store: Store) -> None:
    c = build_components(settings_from_mapping(config(), environ={}), store)
    for channel in ("whatsapp", "voice", "email"):
        with pytest.raises(VerifyError) as caught:
            await c.verifications.start(svc(c), StartParams(to=TO, channel=channel))
        assert caught.value.code == "channel_not_allowed"
    assert c.workflows is None  # an SMS-only config runs no poller at all


@pytest.mark.redis
async def test_a_restart_mid_workflow_still_escalates(redis_server: RedisServer) -> None:
    """The first instance starts the workflow and goes away; a new one, with nothing in
    memory from the first, takes the next step when it comes due."""
    settings = channel_settings()
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    await client.aclose()

    async def instance() -> Components:
        store = Store(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
        await store.load_scripts()
        return build_components(settings, store)

    before = await instance()
    started = await before.verifications.start(svc(before), StartParams(to=TO))
    await before.aclose()

    after = await instance()
    after.store.clock_offset_ms = (TIMEOUT + 1) * 1000
    assert await tick(after) == 1
    assert len(sent(after, "wa")) == 1
    fetched = await after.verifications.fetch(svc(after), started.id)
    assert [a.channel for a in fetched.send_attempts] == ["sms", "whatsapp"]
    await after.aclose()


@pytest.mark.redis
async def test_two_apps_with_their_pollers_escalate_each_verification_once(
    redis_server: RedisServer,
) -> None:
    """Two app objects (as two uvicorn workers, or two instances) on one redis-server,
    each with the poller its lifespan starts: every verification gets exactly one
    WhatsApp message, sent by whichever app claimed it."""
    from tests.conftest import API_KEY
    from tests.support.helpers import open_api

    settings = channel_settings(workflow_poll_interval=0.05)
    first_client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await first_client.flushdb()
    numbers = [f"+4179124{i:04d}" for i in range(10)]
    first_store = Store(first_client)
    second_store = Store(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
    async with (
        open_api(settings, first_store, API_KEY) as first,
        open_api(settings, second_store, API_KEY) as second,
    ):
        for number in numbers:
            r = await first.post("/v1/verifications", json={"to": number})
            assert r.status_code == 201, r.text
        for store in (first_store, second_store):
            later(store, TIMEOUT + 1)

        def whatsapps(number: str) -> int:
            return len(sent(first.components, "wa", number) + sent(second.components, "wa", number))

        for _ in range(200):
            if all(whatsapps(n) for n in numbers):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # time for a second, wrong send to show up
        assert [whatsapps(n) for n in numbers] == [1] * len(numbers)
        assert sent(first.components, "call", numbers[0]) == []
