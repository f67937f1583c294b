"""SMSFactor against a fake of its documented API (seed 004)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.fake_http import FakeServer, Handler, Reply
from tests.unit.providers.kinds.conftest import MESSAGE, TEXT, MakeProvider
from tests.unit.providers.kinds.fakes import (
    SMSFACTOR_TICKET,
    smsfactor_answer,
    smsfactor_api,
    smsfactor_config,
)
from verify_service.providers.base import DeliveryReport, Provider, ProviderError


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer]) -> FakeServer:
    return start_fake(smsfactor_api)


@pytest.fixture
def smsfactor(fake: FakeServer, make_provider: MakeProvider) -> Provider:
    return make_provider(smsfactor_config(fake.url))


async def test_sends_the_documented_request_and_returns_the_ticket(
    fake: FakeServer, smsfactor: Provider
) -> None:
    result = await smsfactor.send(MESSAGE)

    assert result.message_id == SMSFACTOR_TICKET
    req = fake.last
    assert (req.method, req.path) == ("POST", "/send")
    assert req.headers["authorization"].startswith("Bearer eyJ")
    assert req.headers["accept"] == "application/json"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "sms": {
            "message": {"text": TEXT, "pushtype": "alert"},
            "recipients": {"gsm": [{"gsmsmsid": "ver_abc.1", "value": "41791234567"}]},
        }
    }


async def test_sender(fake: FakeServer, make_provider: MakeProvider) -> None:
    await make_provider(smsfactor_config(fake.url, sender="Verify")).send(MESSAGE)
    assert fake.last.json()["sms"]["message"]["sender"] == "Verify"


async def test_simulation_uses_the_documented_path(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    await make_provider(smsfactor_config(fake.url, simulate=True)).send(MESSAGE)
    assert fake.last.path == "/send/simulate"


async def test_moderation_counts_as_sent_and_is_never_retried(
    fake: FakeServer, smsfactor: Provider
) -> None:
    fake.script(Reply(200, json={"status": -8, "message": "Moderation", "ticket": "77"}))
    assert (await smsfactor.send(MESSAGE)).message_id == "77"
    assert len(fake.requests) == 1


async def test_wrong_token_is_permanent(fake: FakeServer, make_provider: MakeProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        await make_provider(smsfactor_config(fake.url, token="wrong")).send(MESSAGE)
    assert exc.value.retryable is False
    assert "-1" in exc.value.reason


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(-1, False), (-2, False), (-3, False), (-5, False), (-6, False), (-7, False), (-99, True)],
)
async def test_negative_statuses_under_http_200_are_classified(
    fake: FakeServer, smsfactor: Provider, status: int, retryable: bool
) -> None:
    fake.script(smsfactor_answer(status))
    with pytest.raises(ProviderError) as exc:
        await smsfactor.send(MESSAGE)
    assert exc.value.retryable is retryable
    assert exc.value.recipient_invalid is False


async def test_an_invalid_number_is_filtered_and_stops_failover(
    fake: FakeServer, smsfactor: Provider
) -> None:
    fake.script(smsfactor_answer(1, sent=0, invalid=1))
    with pytest.raises(ProviderError) as exc:
        await smsfactor.send(MESSAGE)
    assert exc.value.recipient_invalid is True
    assert exc.value.retryable is False


async def test_a_blacklisted_number_is_a_permanent_failure_that_may_fail_over(
    fake: FakeServer, smsfactor: Provider
) -> None:
    fake.script(smsfactor_answer(1, sent=0, blacklisted=1))
    with pytest.raises(ProviderError) as exc:
        await smsfactor.send(MESSAGE)
    assert (exc.value.retryable, exc.value.recipient_invalid) == (False, False)


async def test_an_xml_answer_is_not_taken_for_success(
    fake: FakeServer, smsfactor: Provider
) -> None:
    fake.script(Reply(200, body=b"<response><status>1</status></response>"))
    with pytest.raises(ProviderError):
        await smsfactor.send(MESSAGE)


# -- delivery reports ------------------------------------------------------------------
def dlr(status: int) -> dict[str, Any]:
    return {
        "date": "2026-11-21 10:00:03",
        "status": status,
        "destination": "41791234567",
        "message_id": "1234567",
        "campaign_id": SMSFACTOR_TICKET,
        "country_code": "CH",
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (3, "delivered"),
        (2, "undelivered"),
        (4, "undelivered"),
        (5, "undelivered"),
        (12, "undelivered"),
    ],
)
def test_numeric_dlr_statuses_map_to_final_states(
    smsfactor: Provider, status: int, expected: str
) -> None:
    body = json.dumps(dlr(status)).encode()
    assert smsfactor.parse_reports(body, {"Content-Type": "application/json"}) == [
        DeliveryReport(SMSFACTOR_TICKET, expected, str(status))
    ]


def test_a_form_encoded_dlr_is_read_too(smsfactor: Provider) -> None:
    body = urlencode(dlr(3)).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert smsfactor.parse_reports(body, headers) == [
        DeliveryReport(SMSFACTOR_TICKET, "delivered", "3")
    ]


def test_sent_is_intermediate(smsfactor: Provider) -> None:
    assert smsfactor.parse_reports(json.dumps(dlr(1)).encode(), {}) == []


@pytest.mark.parametrize("body", [b"<xml/>", b"[]", b'{"status": 3}', b'{"campaign_id": "1"}'])
def test_a_body_of_another_shape_is_refused(smsfactor: Provider, body: bytes) -> None:
    with pytest.raises(ValueError):
        smsfactor.parse_reports(body, {})
