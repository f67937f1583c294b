"""Issue 15.8: answers that mean "not now, not soon" (a used-up quota, no credits, a disabled
account) fail over at once, without a retry on the same provider, and open its breaker so
that the next starts skip it; transient answers are retried. Loopback fakes speaking each
provider's documented API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.support.fake_http import FakeServer, Recorded, Reply
from tests.support.fake_swisscom import FakeSwisscom, Fault
from tests.support.helpers import open_api
from verify_service.config import Settings
from verify_service.store import Store

TO = "+41791234567"
SENT = {"status": 1, "message": "OK", "ticket": "t-1", "sent": 1, "credits": 10}


@pytest.fixture
def swisscom() -> Iterator[FakeSwisscom]:
    fake = FakeSwisscom().start()
    yield fake
    fake.stop()


def smsfactor(answers: list[dict[str, Any]]) -> FakeServer:
    """SMSFactor's `POST /send`: the scripted JSON answers in turn, then success."""

    def send(_: Recorded) -> Reply:
        return Reply(200, json=answers.pop(0) if answers else SENT)

    return FakeServer({"POST /send": send})


def settings_for(
    make_settings: Callable[..., Settings], first: dict[str, Any], backup_url: str
) -> Settings:
    providers = {
        "first": {**first, "retries": 1, "breaker_threshold": 5, "breaker_cooldown": 60},
        "backup": {"kind": "smsfactor", "token": "t", "base_url": backup_url},
    }
    return make_settings(providers=providers, service={"providers": ["first", "backup"]})


def behind_swisscom(
    make_settings: Callable[..., Settings], swisscom: FakeSwisscom, backup: FakeServer
) -> Settings:
    first = {"kind": "swisscom_sms", "client_id": "fake-client-id", "base_url": swisscom.url}
    return settings_for(make_settings, first, backup.url)


def attempts(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["provider"], a["status"], a["error"]) for a in body["send_attempts"]]


async def test_swisscom_expired_quota_fails_over_at_once_and_opens_the_breaker(
    store: Store, make_settings: Callable[..., Settings], swisscom: FakeSwisscom
) -> None:
    swisscom.faults.append(Fault(429, headers={"Retry-After": "3600"}))
    with smsfactor([]) as backup:
        async with open_api(
            behind_swisscom(make_settings, swisscom, backup), store, API_KEY
        ) as api:
            r = await api.post("/v1/verifications", {"to": TO})
            assert r.status_code == 201, r.text
            # One request to Swisscom (no retry despite retries = 1), then the backup.
            assert len(swisscom.calls("POST", "/messaging/sms")) == 1
            assert [(p, s) for p, s, _ in attempts(r.json())] == [
                ("first", "failed"),
                ("backup", "sent"),
            ]
            assert "EXPIRED_QUOTA" in (attempts(r.json())[0][2] or "")
            # The breaker is open: the next start goes straight to the backup.
            r = await api.post("/v1/verifications", {"to": "+41791234568"})
            assert r.status_code == 201, r.text
            assert len(swisscom.calls("POST", "/messaging/sms")) == 1
            assert attempts(r.json())[0] == ("first", "failed", "skipped: circuit open")


@pytest.mark.parametrize(
    "refusal",
    [
        {"status": -3, "message": "Not enough credits"},
        {"status": -1, "message": "Authentication error"},
    ],
)
async def test_smsfactor_without_credits_fails_over_at_once(
    store: Store, make_settings: Callable[..., Settings], refusal: dict[str, Any]
) -> None:
    with smsfactor([refusal]) as broke, smsfactor([]) as backup:
        first = {"kind": "smsfactor", "token": "t", "base_url": broke.url}
        async with open_api(settings_for(make_settings, first, backup.url), store, API_KEY) as api:
            r = await api.post("/v1/verifications", {"to": TO})
            assert r.status_code == 201, r.text
            assert len(broke.requests) == 1
            r = await api.post("/v1/verifications", {"to": "+41791234568"})
            assert len(broke.requests) == 1  # skipped: breaker open
            assert len(backup.requests) == 2


async def test_transient_answers_are_retried_on_the_same_provider(
    store: Store, make_settings: Callable[..., Settings], swisscom: FakeSwisscom
) -> None:
    swisscom.faults.append(Fault(503))
    with smsfactor([]) as backup:
        async with open_api(
            behind_swisscom(make_settings, swisscom, backup), store, API_KEY
        ) as api:
            r = await api.post("/v1/verifications", {"to": TO})
            assert r.status_code == 201, r.text
            assert len(swisscom.calls("POST", "/messaging/sms")) == 2  # the retry passed
            assert [(p, s) for p, s, _ in attempts(r.json())] == [
                ("first", "failed"),
                ("first", "sent"),
            ]
            assert backup.requests == []
