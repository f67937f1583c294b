"""Delivery configuration: budgets, retries, breaker, report secrets, the segment cap."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import config
from verify_service.config import ConfigError, settings_from_mapping
from verify_service.providers.registry import build_provider


def settings(**service: Any) -> Any:
    return settings_from_mapping(config(service=service), environ={})


def test_defaults() -> None:
    service = settings().services[0]
    assert service.send_budget == 10.0
    assert service.max_segments == 3  # issue 15.6: one start costs at most three SMS
    provider = build_provider("capture", {"kind": "capture"})
    assert (provider.options.retries, provider.options.breaker_threshold) == (1, 5)
    assert provider.options.breaker_cooldown == 30.0
    assert provider.options.report_secret is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retries", -1),
        ("retries", 11),
        ("breaker_threshold", 0),
        ("breaker_cooldown", 0),
        ("report_secret", "short"),
        ("report_secret", "has a space in it, sadly"),
        ("report_secret", "slash/would/change/the/path"),
    ],
)
def test_bad_provider_delivery_keys_are_refused(key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=key):  # pydantic's ValidationError is one
        build_provider("p", {"kind": "capture", key: value})


@pytest.mark.parametrize("budget", [0, -1, 121])
def test_send_budget_is_bounded(budget: float) -> None:
    with pytest.raises(ConfigError, match="send_budget"):
        settings(send_budget=budget)


def test_templates_over_max_segments_are_refused_at_start_up_naming_the_locale() -> None:
    # 150 GSM-7 characters + a 12-character code = 162 septets: two SMS.
    long_fr = "x" * 150 + "%TOKEN%"
    with pytest.raises(ConfigError, match=r"templates\.fr: with a 12-character code .* 2 SMS"):
        settings(max_segments=1, templates={"de": "Ihr Code: %TOKEN%", "fr": long_fr})
    with pytest.raises(ConfigError, match=r"services\.0: template: .* \(ucs2\)"):
        settings(max_segments=1, template="Ж" * 60 + "%TOKEN%")  # UCS-2: 72 units
    # the longest code the service allows is what counts
    assert settings(max_segments=1, max_token_length=8, token_length=6, template=long_fr)
    assert settings(max_segments=2, templates={"fr": long_fr})


def test_max_segments_is_bounded() -> None:
    with pytest.raises(ConfigError, match="max_segments"):
        settings(max_segments=0)
