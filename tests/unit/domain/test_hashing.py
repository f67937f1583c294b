from __future__ import annotations

import base64

import pytest

from verify_service.domain.hashing import COMPACT_LENGTH, CodeHasher, HashParams

FAST = HashParams(time_cost=1, memory_cost_kib=1024, parallelism=1)


def test_hash_is_argon2id_in_the_compact_form_and_hides_the_code() -> None:
    """52 base64 characters (a listpack value in Redis): t, p, m, the salt's first byte,
    then the tag argon2id makes (argon2's own encoded string ends with the same tag)."""
    hasher = CodeHasher(b"p" * 32, FAST)
    stored = hasher.hash("123456", "scope")
    assert len(stored) == COMPACT_LENGTH == 52
    raw = base64.b64decode(stored)
    assert raw[:7] == bytes([1, 1, 0, 0, 4, 0, hasher.salt_for("scope")[0]])
    encoded = CodeHasher._hash("123456", b"p" * 32, hasher.salt_for("scope"), FAST)
    assert encoded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert base64.b64encode(raw[7:]).decode().rstrip("=") == encoded.rsplit("$", 1)[1]
    assert "123456" not in stored


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
