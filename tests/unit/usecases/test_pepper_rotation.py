"""Pepper rotation: the newest pepper hashes, previous peppers still check, and a check
costs one argon2 run in the common case (the stored salt names the pepper)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import API_KEY, PEPPER, config
from tests.support.helpers import open_api
from verify_service.config import ConfigError, Settings, settings_from_mapping
from verify_service.domain.hashing import CodeHasher, HashParams
from verify_service.store import Store

FAST = HashParams(time_cost=1, memory_cost_kib=1024, parallelism=1)
OLD = b"old-pepper-0123456789abcdef"
NEW = b"new-pepper-0123456789abcdef"
SCOPE = "0123456789abcdef"


def test_old_hashes_still_check_after_rotation(argon2_runs: list[int]) -> None:
    stored = CodeHasher(OLD, FAST).hash("123456", SCOPE)
    rotated = CodeHasher(NEW, FAST, previous_peppers=[OLD])
    argon2_runs.clear()
    assert rotated.matches("123456", SCOPE, [stored])
    assert not rotated.matches("654321", SCOPE, [stored])
    assert len(argon2_runs) == 2  # one run per check, not one per configured pepper


def test_new_hashes_use_the_newest_pepper() -> None:
    rotated = CodeHasher(NEW, FAST, previous_peppers=[OLD])
    assert rotated.hash("123456", SCOPE) == CodeHasher(NEW, FAST).hash("123456", SCOPE)
    assert not CodeHasher(OLD, FAST).matches("123456", SCOPE, [rotated.hash("123456", SCOPE)])


def test_a_retired_pepper_no_longer_checks(argon2_runs: list[int]) -> None:
    stored = CodeHasher(OLD, FAST).hash("123456", SCOPE)
    argon2_runs.clear()
    assert not CodeHasher(NEW, FAST).matches("123456", SCOPE, [stored])
    assert argon2_runs == []  # nothing to compute against: no pepper made that salt


def test_mixed_resends_across_a_rotation_cost_one_run_per_pepper(argon2_runs: list[int]) -> None:
    before = CodeHasher(OLD, FAST).hash("111111", SCOPE)
    rotated = CodeHasher(NEW, FAST, previous_peppers=[OLD])
    after = rotated.hash("222222", SCOPE)
    argon2_runs.clear()
    assert rotated.matches("111111", SCOPE, [before, after])
    assert rotated.matches("222222", SCOPE, [before, after])
    assert len(argon2_runs) == 4


def test_garbage_stored_hashes_are_ignored() -> None:
    hasher = CodeHasher(NEW, FAST)
    good = hasher.hash("123456", SCOPE)
    legacy = CodeHasher._hash("123456", NEW, hasher.salt_for(SCOPE), FAST)
    garbage = [
        "",
        "$argon2id$",
        "$argon2id$v=19$m=x$!!$y",
        legacy.replace("argon2id", "argon2i"),
        "A" * 52,  # the compact form's length: no parameters
        good[:-1] + "!",
        good[:-4],
        "delegated:0123456789abcdef",
    ]
    assert hasher.matches("123456", SCOPE, [*garbage, good])
    assert not hasher.matches("123456", SCOPE, garbage)


def test_config_reads_previous_peppers_from_the_environment() -> None:
    data = config(previous_peppers=["env:OLD_PEPPER"], id_key="env:OLD_PEPPER")
    settings = settings_from_mapping(data, environ={"OLD_PEPPER": OLD.decode()})
    assert settings.previous_pepper_bytes() == [OLD]
    with pytest.raises(ConfigError, match="previous_peppers"):
        settings_from_mapping(config(previous_peppers=["short"], id_key=PEPPER), environ={})


def test_a_rotation_needs_id_key_so_that_ids_do_not_change() -> None:
    with pytest.raises(ConfigError, match="id_key"):
        settings_from_mapping(config(previous_peppers=[PEPPER]), environ={})


async def test_rotation_without_downtime_keeps_pending_verifications(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Start under the old pepper, restart with the new one (old kept as previous): the
    pending code still approves, and new verifications use the new pepper."""
    async with open_api(make_settings(), store, API_KEY) as before:
        r = await before.post("/v1/verifications", {"to": "+41791234567"})
        assert r.status_code == 201
        code = before.last_code("+41791234567")

    # id_key keeps the ids' tags (and so lookups by number) as they were under the old pepper.
    rotated = make_settings(
        pepper="rotated-pepper-0123456789ab", previous_peppers=[PEPPER], id_key=PEPPER
    )
    async with open_api(rotated, store, API_KEY) as after:
        r = await after.post("/v1/verifications/check", {"to": "+41791234567", "code": code})
        assert r.json()["valid"] is True
        r = await after.post("/v1/verifications", {"to": "+41791234599"})
        new_code = after.last_code("+41791234599")

    retired = make_settings(pepper="rotated-pepper-0123456789ab", id_key=PEPPER)
    async with open_api(retired, store, API_KEY) as later:
        r = await later.post("/v1/verifications/check", {"to": "+41791234599", "code": new_code})
        assert r.json()["valid"] is True
