"""Valid settings that are unsafe outside a trial are said at start-up, not kept silent:
the `console` provider prints codes to standard output, `test_mode` serves the test
outbox to any API key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from verify_service.config import Settings
from verify_service.config.cautions import cautions


def test_a_safe_config_has_no_cautions(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        test_mode=False,
        hashing={"time_cost": 2, "memory_cost_kib": 19456},
        providers={"websms": {"kind": "websms", "access_token": "t" * 20}},
        service={"providers": ["websms"]},
        trusted_proxies=["10.0.0.0/8"],
        console={"users": []},
    )
    assert cautions(settings) == []


def test_test_mode_and_a_printing_provider_are_named(
    make_settings: Callable[..., Settings],
) -> None:
    # Before: `serve` with the console provider on a Redis-backed (production-shaped)
    # config logged nothing about every code going to stdout, and test_mode nothing at all.
    settings = make_settings(
        providers={"capture": {"kind": "capture"}, "printer": {"kind": "console"}},
        service={"providers": ["capture"], "channels": {"email": {"providers": ["printer"]}}},
        extra_services=[{"name": "other", "providers": ["printer"]}],
    )
    found = [c for c in cautions(settings) if not c.startswith("[hashing]")]
    assert len(found) == 2
    assert found[0].startswith("test_mode = true")
    assert "production" in found[0]
    assert found[1].startswith("provider 'printer' is of kind 'console'")
    assert "codes" in found[1]


def test_weak_hashing_a_catch_all_proxy_and_a_plain_http_cookie_are_named(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        test_mode=False,
        providers={"websms": {"kind": "websms", "access_token": "t" * 20}},
        service={"providers": ["websms"]},
        hashing={"time_cost": 1, "memory_cost_kib": 1024},
        trusted_proxies=["10.0.0.0/8", "::/0"],
        console={"secure_cookie": False},
    )
    found = cautions(settings)
    assert [c.split(" ", 1)[0] for c in found] == ["[hashing]", "trusted_proxies", "[console]"]
    assert "memory_cost_kib = 1024 with time_cost = 1 is below OWASP's argon2id" in found[0]


@pytest.mark.parametrize(("memory_kib", "time_cost"), [(35840, 1), (6000, 6)])
def test_hashing_is_held_to_owasps_profiles_not_to_memory_times_passes(
    make_settings: Callable[..., Settings], memory_kib: int, time_cost: int
) -> None:
    # m x t is 35840 in both, the product of OWASP's t=5 profile, yet neither is one of
    # its profiles (t=1 needs 46 MiB; none goes below 7 MiB): the same floor as operators'
    # password hashes (config/argon2_floor.py)
    hashing = {"time_cost": time_cost, "memory_cost_kib": memory_kib}
    found = cautions(make_settings(hashing=hashing))
    assert any(c.startswith("[hashing]") for c in found)
