"""Status events: signed POSTs to a customer's backend (a real HTTP server on loopback),
retried with backoff, never blocking a request, never carrying the code."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.support.fake_http import FakeServer, Recorded, Reply
from tests.support.helpers import open_api, sent_code, wrong_code
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import ConfigError, Settings
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.observability.metrics import Metrics
from verify_service.store import Store
from verify_service.webhooks.callbacks import StatusEvents, sign, verify_signature

TO = "+41791234567"
SECRET = "whsec_" + "c2VjcmV0LWtleS1mb3Itd2ViaG9va3MtMDEyMzQ1Njc="  # base64 of 32 bytes
FAST = (0.02, 0.02, 0.02)


@dataclass
class Receiver:
    """The customer's backend: answers each POST with the next scripted status (200 after
    the script runs out) after `delay` seconds, and keeps what it got."""

    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    def answer(request: Recorded) -> Reply:
        state.received.append((dict(request.headers), request.body))
        status = state.script.pop(0) if state.script else 200
        return Reply(status, delay=state.delay)

    with FakeServer({"POST /hooks/verify": answer}) as server:
        state.url = f"{server.url}/hooks/verify"
        yield state


@pytest.fixture
def make_verifs(
    store: Store, make_settings: Callable[..., Settings], receiver: Receiver
) -> Callable[..., Components]:
    def make(**events: Any) -> Components:
        settings = make_settings(
            service={"status_callback_url": receiver.url, "status_callback_secret": SECRET}
        )
        metrics = Metrics()
        return build_components(
            settings,
            store,
            metrics=metrics,
            events=StatusEvents(metrics, **{"backoff": FAST, **events}),
        )

    return make


def counted(v: Components, outcome: str) -> float:
    value = v.metrics.registry.get_sample_value(
        "verify_status_events_total", {"service": "login", "outcome": outcome}
    )
    return value or 0.0


async def test_each_status_change_is_posted_signed_and_without_the_code(
    make_verifs: Callable[..., Components], receiver: Receiver
) -> None:
    v = make_verifs()
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO, metadata={"user": "u-1"}))
    code = sent_code(v, TO)
    await v.verifications.check(service, to=TO, code=code)
    other = await v.verifications.start(service, StartParams(to="+41797654321"))
    await v.verifications.cancel(service, other.id)
    assert await v.events.drain(5)

    statuses = [(e["data"]["id"], e["data"]["status"]) for e in receiver.events()]
    assert sorted(statuses) == sorted(
        [
            (started.id, "pending"),
            (started.id, "approved"),
            (other.id, "pending"),
            (other.id, "canceled"),
        ]
    )
    for headers, body in receiver.received:
        assert verify_signature(SECRET, headers, body)
        assert not verify_signature("whsec_" + "QUJD" * 8, headers, body)
        assert headers["webhook-id"].startswith("evt_")
        assert code.encode() not in body
        assert b'"code"' not in body
    approved = next(e for e in receiver.events() if e["data"]["status"] == "approved")
    assert approved["type"] == "verification.status_changed"
    assert approved["data"]["to"] == TO
    assert approved["data"]["metadata"] == {"user": "u-1"}
    assert counted(v, "delivered") == 4
    await v.aclose()


async def test_failures_and_expiry_are_reported(
    make_verifs: Callable[..., Components], receiver: Receiver, store: Store
) -> None:
    v = make_verifs()
    service = v.settings.services[0]
    await v.verifications.start(service, StartParams(to=TO))
    wrong = wrong_code(sent_code(v, TO))
    for _ in range(service.max_check_attempts):
        await v.verifications.check(service, to=TO, code=wrong)
    await v.verifications.start(service, StartParams(to="+41797654321"))
    store.clock_offset_ms = 3600 * 1000
    await v.verifications.check(service, to="+41797654321", code="123456")
    await v.verifications.check(
        service, to="+41797654321", code="123456"
    )  # observed again: reported once
    third = await v.verifications.start(service, StartParams(to="+41797654322"))
    store.clock_offset_ms = 7200 * 1000
    with pytest.raises(VerifyError, match="expired"):
        await v.verifications.cancel(
            service, third.id
        )  # cancel finds it expired: reported, then refused
    store.clock_offset_ms = 0
    assert await v.events.drain(5)
    statuses = sorted(e["data"]["status"] for e in receiver.events())
    assert statuses == [
        "expired",
        "expired",
        "max_attempts_reached",
        "pending",
        "pending",
        "pending",
    ]
    await v.aclose()


async def test_retried_with_backoff_under_the_same_id(
    make_verifs: Callable[..., Components], receiver: Receiver
) -> None:
    receiver.script = [503, 500]
    v = make_verifs()
    await v.verifications.start(v.settings.services[0], StartParams(to=TO))
    assert await v.events.drain(5)
    assert len(receiver.received) == 3
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1
    assert counted(v, "delivered") == 1
    await v.aclose()


async def test_a_4xx_is_not_retried_and_counts_as_failed(
    make_verifs: Callable[..., Components], receiver: Receiver
) -> None:
    receiver.script = [400]
    v = make_verifs()
    await v.verifications.start(v.settings.services[0], StartParams(to=TO))
    assert await v.events.drain(5)
    assert len(receiver.received) == 1
    assert counted(v, "failed") == 1
    await v.aclose()


async def test_a_slow_receiver_never_slows_a_request_and_a_full_queue_drops(
    make_verifs: Callable[..., Components], receiver: Receiver
) -> None:
    receiver.delay = 1.0
    v = make_verifs(queue_size=1, workers=1)
    service = v.settings.services[0]
    began = time.perf_counter()
    for i in range(4):
        await v.verifications.start(service, StartParams(to=f"+4179765432{i}"))
    assert time.perf_counter() - began < 0.9  # not even one receiver delay
    # one in flight, one queued, two dropped
    assert counted(v, "dropped") == 2
    await v.events.aclose(grace=3)
    assert counted(v, "delivered") == 2
    await v.aclose()


async def test_the_app_posts_events_for_http_flows(
    store: Store, make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = make_settings(
        service={"status_callback_url": receiver.url, "status_callback_secret": "plain-secret-1"}
    )
    async with open_api(settings, store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TO})
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            await api.client.get("/health/live")  # lets the app's loop run its sender
            await asyncio.sleep(0.02)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert verify_signature("plain-secret-1", headers, body)


def test_signature_matches_the_standard_webhooks_example() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_callback_url_needs_a_secret(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="status_callback_secret"):
        make_settings(service={"status_callback_url": "https://backend.example/hooks"})
