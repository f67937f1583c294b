"""Swift SMS Gateway against a fake of its documented API (seed 001)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from tests.support.fake_http import FakeServer, Handler, Reply
from tests.unit.providers.kinds.conftest import MESSAGE, TEXT, MakeProvider
from tests.unit.providers.kinds.fakes import SWIFT_ID, swift_api, swift_config, swift_result
from verify_service.providers.base import Provider, ProviderError


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer]) -> FakeServer:
    return start_fake(swift_api)


@pytest.fixture
def swift(fake: FakeServer, make_provider: MakeProvider) -> Provider:
    return make_provider(swift_config(fake.url))


async def test_sends_the_documented_request_and_returns_the_message_id(
    fake: FakeServer, swift: Provider
) -> None:
    result = await swift.send(MESSAGE)

    assert result.message_id == SWIFT_ID
    req = fake.last
    assert (req.method, req.path) == ("POST", "/v1/sms")
    assert req.headers["authorization"] == "Bearer ABC123"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"body": TEXT, "to": ["+41791234567"], "id": "ver_abc.1"}


async def test_sender_goes_in_from(fake: FakeServer, make_provider: MakeProvider) -> None:
    await make_provider(swift_config(fake.url, sender="+12003004000")).send(MESSAGE)
    assert fake.last.json()["from"] == "+12003004000"


async def test_ok_is_compared_ignoring_case(fake: FakeServer, swift: Provider) -> None:
    fake.script(Reply(200, json={"results": [swift_result("ok")]}))
    assert (await swift.send(MESSAGE)).message_id == SWIFT_ID


async def test_wrong_key_is_permanent(fake: FakeServer, make_provider: MakeProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        await make_provider(swift_config(fake.url, api_key="nope")).send(MESSAGE)
    assert exc.value.retryable is False
    assert "401" in exc.value.reason


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (422, "ACCOUNT_SMS_DISABLED", False),
        (207, "ACCOUNT_SMS_DISABLED", False),  # partial: our only recipient failed
        (422, "TEMPORARY_ERROR", True),
        (422, "internal_error", True),
        (422, "upstream_error", True),
        (422, "too_many_dispatches", True),
    ],
)
async def test_result_error_codes_are_classified(
    fake: FakeServer, swift: Provider, status: int, code: str, retryable: bool
) -> None:
    fake.script(Reply(status, json={"results": [swift_result(code)]}))
    with pytest.raises(ProviderError) as exc:
        await swift.send(MESSAGE)
    assert exc.value.retryable is retryable
    assert exc.value.recipient_invalid is False
    assert code in exc.value.reason


async def test_invalid_number_codes_are_configurable_and_stop_failover(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    # The fake refuses a number that is not E.164 with INVALID_TO (HTTP 422).
    swift = make_provider(swift_config(fake.url, recipient_invalid_codes=["invalid_to"]))
    with pytest.raises(ProviderError) as exc:
        await swift.send(dataclasses.replace(MESSAGE, to="0791234567"))
    assert exc.value.recipient_invalid is True
    assert exc.value.retryable is False


async def test_ok_under_http_422_is_not_success(fake: FakeServer, swift: Provider) -> None:
    fake.script(Reply(422, json={"results": [swift_result("OK")]}))
    with pytest.raises(ProviderError):
        await swift.send(MESSAGE)


async def test_an_answer_without_results_is_not_success(fake: FakeServer, swift: Provider) -> None:
    fake.script(Reply(200, json={"message": TEXT}))
    with pytest.raises(ProviderError) as exc:
        await swift.send(MESSAGE)
    assert exc.value.retryable is False
    assert "482913" not in exc.value.reason


def test_has_no_documented_delivery_reports(swift: Provider) -> None:
    assert swift.parse_reports(b"{}", {}) == []
