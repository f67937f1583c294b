"""Abuse settings as a TOML file gives them, and the start-up errors for wrong ones."""

from __future__ import annotations

from datetime import date
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import limits
import pytest

from tests.conftest import config
from verify_service.config import ConfigError, load_settings, settings_from_mapping
from verify_service.config.abuse import parse_limits

TOML = """
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]

[providers.console]
kind = "console"

[[services]]
name = "login"
providers = ["console"]
blocked_countries = ["ru"]
blocked_prefixes = ["+882", "+4190"]
mobile_only = true
test_numbers = { "+41790000000" = "123456" }
test_numbers_valid_until = 2027-01-31

[services.rate_limits]
per_number = ["3/10minutes", "8/day"]
per_ip = ["20/hour"]

[services.fraud_guard]
min_starts = 100
min_conversion = 0.1
"""


def test_a_toml_file_with_every_abuse_setting(tmp_path: Path) -> None:
    path = tmp_path / "verify.toml"
    path.write_text(TOML)
    settings = load_settings(path, {})
    assert settings.trusted_proxies == [
        ip_network("10.0.0.0/8"),
        ip_network("2001:db8::/32"),
        ip_network("127.0.0.1/32"),
    ]
    service = settings.services[0]
    assert service.blocked_countries == ["RU"]
    assert service.blocked_prefixes == ["+882", "+4190"]
    assert service.mobile_only is True
    assert service.test_numbers_valid_until == date(2027, 1, 31)
    assert service.rate_limits.per_number == ["3/10minutes", "8/day"]
    assert service.rate_limits.per_country == ["1000/hour"]  # defaults fill the rest
    assert service.fraud_guard.min_starts == 100  # the first guard's keys still load
    assert service.fraud_guard.min_conversion == 0.1


def test_defaults() -> None:
    # the test config switches the pumping guard off; {} = the shipped defaults
    service = settings_from_mapping(config(service={"fraud_guard": {}}), {}).services[0]
    limits_ = service.rate_limits
    assert (limits_.per_number, limits_.per_ip, limits_.checks_per_ip) == (
        ["5/10minutes", "10/day"],
        [],
        [],
    )
    assert (limits_.per_country, limits_.global_sends) == (["1000/hour"], ["5000/hour"])
    guard = service.fraud_guard
    assert (guard.enabled, guard.mode, guard.window, guard.baseline) == (
        True,
        "standard",
        3600,
        7 * 86400,
    )
    assert (guard.min_starts, guard.min_conversion, guard.cooldown) == (None, None, None)
    assert (service.mobile_only, service.blocked_prefixes, service.blocked_countries) == (
        False,
        [],
        [],
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"service": {"rate_limits": {"per_number": ["5/fortnight"]}}},
            "services.0.rate_limits.per_number: '5/fortnight' is not a rate limit",
        ),
        ({"service": {"rate_limits": {"strategy": "leaky"}}}, "rate_limits.strategy"),
        ({"service": {"rate_limits": {"per_phone": []}}}, "per_phone"),
        ({"service": {"fraud_guard": {"min_conversion": 1.5}}}, "fraud_guard.min_conversion"),
        ({"service": {"fraud_guard": {"mode": "paranoid"}}}, "fraud_guard.mode"),
        ({"service": {"fraud_guard": {"window": 7 * 86400}}}, "at least 4 x window"),
        ({"service": {"fraud_guard": {"cooldown": 7200, "max_cooldown": 3600}}}, "max_cooldown"),
        ({"service": {"fraud_guard": {"max_ranges": 10}}}, "fraud_guard.max_ranges"),
        ({"service": {"fraud_guard": {"allowed_prefixes": ["491521"]}}}, "E.164 form"),
        ({"service": {"fraud_guard": {"min_sends": 3}}}, "min_sends"),
        (
            {
                "operators": [
                    {"name": "oncall", "api_keys": ["sha256:" + "0" * 64], "services": ["nope"]}
                ]
            },
            "operator 'oncall': unknown services nope",
        ),
        (
            {"operators": [{"name": "oncall", "api_keys": ["plain"], "services": ["*"]}]},
            "operators.0.api_keys",
        ),
        ({"service": {"blocked_countries": ["XX"]}}, "unknown country codes: XX"),
        ({"service": {"blocked_prefixes": ["882"]}}, "E.164 form"),
        ({"service": {"test_numbers_valid_until": "soon"}}, "test_numbers_valid_until"),
        ({"trusted_proxies": ["10.0.0.0/33"]}, "trusted_proxies"),
    ],
)
def test_wrong_abuse_settings_fail_at_start_up(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(config(**overrides), {})
    assert message in str(info.value)


def test_limit_strings_use_the_limits_notation() -> None:
    assert parse_limits(["5/10minutes", "10 per day"]) == [
        limits.RateLimitItemPerMinute(5, 10),
        limits.RateLimitItemPerDay(10),
    ]
