"""Test numbers: a fixed code, nothing sent, exempt from the send budgets and the pumping
guard but not from the per-client and per-number limits, check attempts or expiry; after
`test_numbers_valid_until` they are ordinary numbers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.support.abuse_helpers import only, open_client
from verify_service.abuse.testnumbers import valid_until
from verify_service.api.app import build_components
from verify_service.config import Settings
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
TEST_NUMBER, FIXED = "+41790000000", "123456"


def settings_for(make_settings: MakeSettings, **service: Any) -> Settings:
    return make_settings(
        service={
            "test_numbers": {TEST_NUMBER: FIXED, "+41790000011": "654321"},
            "rate_limits": only(per_number=["1/10minutes"], global_sends=["1/hour"]),
            # a guard that blocks at the second start (this one counted): test numbers pass
            "fraud_guard": {"min_starts": 2, "min_conversion": 1.0},
            **service,
        }
    )


async def check(api: Any, code: str) -> dict[str, Any]:
    r = await api.post("/v1/verifications/check", {"to": TEST_NUMBER, "code": code})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_fixed_code_nothing_sent_no_send_limits_but_attempts_count(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_for(make_settings, rate_limits=only(global_sends=["1/hour"]))
    async with open_client(settings, store, API_KEY) as api:
        for _ in range(4):  # far past the global send budget and the pumping guard
            assert (await api.post("/v1/verifications", {"to": TEST_NUMBER})).status_code == 201
        assert api.sent_to(TEST_NUMBER) == []
        assert (await check(api, "000000"))["attempts_remaining"] == 4
        assert (await check(api, "111111"))["attempts_remaining"] == 3
        result = await check(api, FIXED)
        assert (result["valid"], result["status"]) == (True, "approved")


@pytest.mark.parametrize("layer", ["per_number", "per_ip"])
async def test_test_numbers_keep_the_per_client_and_per_number_limits(
    store: Store, make_settings: MakeSettings, argon2_runs: list[int], layer: str
) -> None:
    """Issue 15.2: looping starts to a test number is no way around the request limits,
    and a refused start costs no hash."""
    settings = settings_for(make_settings, rate_limits=only(**{layer: ["2/10minutes"]}))
    async with open_client(settings, store, API_KEY) as api:
        for _ in range(2):
            assert (await api.post("/v1/verifications", {"to": TEST_NUMBER})).status_code == 201
        hashed = len(argon2_runs)
        for _ in range(5):
            r = await api.post("/v1/verifications", {"to": TEST_NUMBER})
            assert r.status_code == 429, r.text
            assert (r.json()["code"], r.json()["limit"]) == ("rate_limited", layer)
        assert len(argon2_runs) == hashed
        assert api.sent_to(TEST_NUMBER) == []


async def test_wrong_codes_still_lock_a_test_number(
    store: Store, make_settings: MakeSettings
) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TEST_NUMBER})
        for _ in range(5):
            await check(api, "000000")
        result = await check(api, FIXED)
        assert (result["valid"], result["status"]) == (False, "max_attempts_reached")


async def test_test_number_verifications_expire(store: Store, make_settings: MakeSettings) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TEST_NUMBER, "expires_in": 60})
        store.clock_offset_ms += 61_000
        result = await check(api, FIXED)
        assert (result["valid"], result["status"]) == (False, "expired")


async def test_after_valid_until_a_test_number_is_an_ordinary_number(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_for(make_settings, test_numbers_valid_until=date(2020, 1, 1))
    async with open_client(settings, store, API_KEY) as api:
        assert (await api.post("/v1/verifications", {"to": TEST_NUMBER})).status_code == 201
        assert len(api.sent_to(TEST_NUMBER)) == 1  # a real, random code went out
        r = await api.post("/v1/verifications", {"to": TEST_NUMBER})
        assert r.json()["code"] == "rate_limited"  # and the send limits apply again
        code = api.last_code(TEST_NUMBER)
        if code != FIXED:
            assert (await check(api, FIXED))["valid"] is False
        assert (await check(api, code))["valid"] is True


async def test_before_valid_until_the_fixed_code_works(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_for(make_settings, test_numbers_valid_until="2999-01-01T00:00:00Z")
    async with open_client(settings, store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TEST_NUMBER})
        assert api.sent_to(TEST_NUMBER) == []
        assert (await check(api, FIXED))["valid"] is True


@pytest.mark.parametrize(
    ("raw", "until"),
    [
        (date(2027, 3, 1), datetime(2027, 3, 2, tzinfo=UTC)),
        ("2027-03-01", datetime(2027, 3, 2, tzinfo=UTC)),  # as `env:NAME` gives it
        ("2027-03-01T12:00:00", datetime(2027, 3, 1, 12, tzinfo=UTC)),
        ("2027-03-01T12:00:00+01:00", datetime(2027, 3, 1, 11, tzinfo=UTC)),
    ],
)
def test_valid_until_from_config(make_settings: MakeSettings, raw: Any, until: datetime) -> None:
    service = make_settings(service={"test_numbers_valid_until": raw}).services[0]
    assert valid_until(service.test_numbers_valid_until) == until


def test_a_date_means_through_that_day_utc() -> None:
    assert valid_until(date(2027, 3, 1)) == datetime(2027, 3, 2, tzinfo=UTC)
    assert valid_until(datetime(2027, 3, 1, 12)) == datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert valid_until(None) is None


def test_start_up_logs_the_test_numbers_by_their_last_digits(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "verify_service.abuse"):
        build_components(settings_for(make_settings, test_numbers_valid_until="2020-01-01"))
    line = caplog.text
    assert "service 'login': 2 test number(s)" in line
    assert "…0000" in line
    assert "…0011" in line
    assert TEST_NUMBER not in line
    assert FIXED not in line
    assert "EXPIRED" in line
