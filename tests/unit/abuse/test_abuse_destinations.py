"""Geo permissions and number types, at the start of a verification."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from verify_service.api.app import build_verifications
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.store import Store
from verify_service.usecases.verifications import Verifications

MakeSettings = Callable[..., Settings]


@pytest.fixture
async def embedded() -> AsyncIterator[Store]:
    store = Store.embedded()
    yield store
    await store.aclose()


async def refusal(v: Verifications, to: str) -> VerifyError | None:
    try:
        await v.start(v.settings.services[0], to=to)
    except VerifyError as exc:
        return exc
    return None


def make(embedded: Store, make_settings: MakeSettings, **service: Any) -> Verifications:
    return build_verifications(make_settings(service=service), embedded)


async def test_blocked_countries(embedded: Store, make_settings: MakeSettings) -> None:
    v = make(embedded, make_settings, blocked_countries=["fr"])
    error = await refusal(v, "+33612345678")
    assert error is not None
    assert (error.code, error.status) == ("country_not_allowed", 403)
    assert error.extra == {"reason": "country_blocked", "country": "FR"}
    assert await refusal(v, "+41791234567") is None


async def test_allowed_countries_give_their_reason(
    embedded: Store, make_settings: MakeSettings
) -> None:
    v = make(embedded, make_settings, allowed_countries=["CH"])
    error = await refusal(v, "+4915123456789")
    assert error is not None
    assert error.extra["reason"] == "country_not_in_allowed_countries"


async def test_blocked_prefixes(embedded: Store, make_settings: MakeSettings) -> None:
    v = make(embedded, make_settings, blocked_prefixes=["+4190", "+447"])
    for number in ("+41900123456", "+447400123456"):
        error = await refusal(v, number)
        assert error is not None
        assert error.code == "country_not_allowed"
        assert error.extra["reason"] == "prefix_blocked"
    assert await refusal(v, "+41791234567") is None


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+41212345678", "fixed_line"),
        ("+41900123456", "premium_rate"),
        ("+33891123456", "premium_rate"),
        ("+4930123456", "fixed_line"),
    ],
)
async def test_mobile_only_refuses_other_number_types(
    embedded: Store, make_settings: MakeSettings, number: str, kind: str
) -> None:
    v = make(embedded, make_settings, mobile_only=True)
    error = await refusal(v, number)
    assert error is not None
    assert (error.code, error.status) == ("invalid_phone_number", 400)
    assert error.extra == {"reason": "not_mobile", "number_type": kind}
    assert kind.replace("_", "-") in error.detail


@pytest.mark.parametrize("number", ["+41791234567", "+4915123456789", "+12015550123"])
async def test_mobile_only_lets_mobiles_through(
    embedded: Store, make_settings: MakeSettings, number: str
) -> None:
    # +1 numbers are "fixed line or mobile": the plan does not tell them apart
    v = make(embedded, make_settings, mobile_only=True)
    assert await refusal(v, number) is None


async def test_refusals_are_counted(embedded: Store, make_settings: MakeSettings) -> None:
    v = make(embedded, make_settings, blocked_countries=["FR"], mobile_only=True)
    await refusal(v, "+33612345678")
    await refusal(v, "+41212345678")
    metrics = v.metrics.render().decode()
    assert (
        'verify_blocks_total{country="FR",reason="country_blocked",service="login"} 1.0' in metrics
    )
    assert 'verify_blocks_total{country="CH",reason="not_mobile",service="login"} 1.0' in metrics
