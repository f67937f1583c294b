"""Fraud guard and operator settings: the first guard's keys still load, the new ones are
checked at start-up, and operators' keys are kept apart from services'."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API_KEY, config
from verify_service.abuse.fraud import MODES, guard_args
from verify_service.config import ConfigError, hash_api_key, settings_from_mapping

OPERATOR_KEY = "op-key-0123456789abcdef"


def operator(**overrides: Any) -> dict[str, Any]:
    return {"name": "oncall", "api_keys": [hash_api_key(OPERATOR_KEY)], "services": ["*"],
            **overrides}  # fmt: skip


def test_the_first_guards_keys_keep_their_meaning() -> None:
    settings = settings_from_mapping(
        config(service={"fraud_guard": {"window": 600, "min_starts": 30, "min_conversion": 0.2,
                                        "cooldown": 60}}),
        {},
    )  # fmt: skip
    args = guard_args(settings.services[0].fraud_guard)
    assert (args.window_ms, args.min_starts, args.min_conversion, args.cooldown_ms) == (
        600_000,
        30,
        0.2,
        60_000,
    )


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_mode_sets_its_knobs(mode: str) -> None:
    settings = settings_from_mapping(config(service={"fraud_guard": {"mode": mode}}), {})
    args = guard_args(settings.services[0].fraud_guard)
    assert (args.ratio, args.min_starts, args.repeat_min_starts) == (
        MODES[mode].ratio,
        MODES[mode].min_starts,
        MODES[mode].repeat_min_starts,
    )
    assert args.cooldown_ms == MODES[mode].cooldown * 1000


def test_modes_order_from_cautious_to_aggressive() -> None:
    basic, standard, most = MODES["basic"], MODES["standard"], MODES["max"]
    assert basic.z > standard.z > most.z
    assert basic.ratio < standard.ratio < most.ratio
    assert basic.min_starts > standard.min_starts > most.min_starts


def test_an_operator_key_from_the_environment_is_hashed() -> None:
    data = config(operators=[operator(api_keys=["env:OPS_KEY"])])
    settings = settings_from_mapping(data, {"OPS_KEY": OPERATOR_KEY})
    assert settings.operators[0].api_keys == [hash_api_key(OPERATOR_KEY)]
    assert settings.operators[0].manages("login")


@pytest.mark.parametrize(
    ("operators", "message"),
    [
        ([operator(api_keys=[hash_api_key(API_KEY)])], "shares an API key with a service"),
        ([operator(), operator(name="other")], "shares an API key with another"),
        ([operator(), operator(api_keys=["sha256:" + "1" * 64])], "same name"),
        ([operator(services=[])], "operators.0.services"),
        ([operator(name="on call")], "operators.0.name"),
    ],
)
def test_wrong_operators_fail_at_start_up(operators: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(config(operators=operators), {})
    assert message in str(info.value)
