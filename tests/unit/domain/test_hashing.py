from __future__ import annotations

import pytest

from verify_service.domain.hashing import CodeHasher, HashParams

FAST = HashParams(time_cost=1, memory_cost_kib=1024, parallelism=1)


def test_hash_is_argon2id_and_hides_the_code() -> None:
    hasher = CodeHasher(b"p" * 32, FAST)
    encoded = hasher.hash("123456", "scope")
    assert encoded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert "123456" not in encoded


def test_matches_any_code_of_the_scope_and_nothing_else() -> None:
    hasher = CodeHasher(b"p" * 32, FAST)
    stored = [hasher.hash("111111", "a"), hasher.hash("222222", "a")]
    assert hasher.matches("111111", "a", stored)
    assert hasher.matches("222222", "a", stored)
    assert not hasher.matches("333333", "a", stored)
    # another (service, number) has another salt: the same code does not carry over
    assert not hasher.matches("111111", "b", stored)


def test_the_pepper_keys_the_hash() -> None:
    stored = [CodeHasher(b"p" * 32, FAST).hash("111111", "a")]
    assert not CodeHasher(b"q" * 32, FAST).matches("111111", "a", stored)


def test_hashes_made_with_older_parameters_still_check() -> None:
    old = CodeHasher(b"p" * 32, FAST).hash("111111", "a")
    newer = CodeHasher(b"p" * 32, HashParams(time_cost=2, memory_cost_kib=2048, parallelism=1))
    assert newer.matches("111111", "a", [old])
    assert not newer.matches("111112", "a", [old])


def test_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError):
        CodeHasher(b"short", FAST)


def test_garbage_hashes_never_match() -> None:
    hasher = CodeHasher(b"p" * 32, FAST)
    assert not hasher.matches("111111", "a", ["", "$argon2i$x", "plain"])
