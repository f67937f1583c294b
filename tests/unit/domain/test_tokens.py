"""Tokens: alphabets, uniform draws, normalisation of typed codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.tokens import (
    ALPHABETS,
    MAX_LENGTH,
    MIN_LENGTH,
    TokenType,
    generate_token,
    normalize_code,
)

lengths = st.integers(MIN_LENGTH, MAX_LENGTH)


@given(st.sampled_from(TokenType), lengths)
def test_tokens_have_the_length_and_alphabet_asked_for(token_type: TokenType, length: int) -> None:
    token = generate_token(token_type, length)
    assert len(token) == length
    assert set(token) <= set(ALPHABETS[token_type])


def test_alphanumeric_has_no_look_alikes() -> None:
    alphabet = ALPHABETS[TokenType.ALPHANUMERIC]
    assert not set("0O1IL") & set(alphabet)
    assert set(alphabet) == set("ABCDEFGHJKMNPQRSTUVWXYZ23456789")


@pytest.mark.parametrize("token_type", list(TokenType))
def test_every_symbol_appears_at_every_position(token_type: TokenType) -> None:
    # With n draws, a symbol missing at a position has probability (1-1/k)^n: for k=62 and
    # n=3000 that is ~1e-21 per (symbol, position), so a miss means bias, not bad luck.
    alphabet = ALPHABETS[token_type]
    length = 6
    seen: list[dict[str, int]] = [dict.fromkeys(alphabet, 0) for _ in range(length)]
    draws = 3000
    for _ in range(draws):
        for position, symbol in enumerate(generate_token(token_type, length)):
            seen[position][symbol] += 1
    expected = draws / len(alphabet)
    for counts in seen:
        assert min(counts.values()) > 0
        # a gross modulo bias (e.g. 256 % 10) would push some symbols far above the mean
        assert max(counts.values()) < expected * 2 + 20


@pytest.mark.parametrize("length", [MIN_LENGTH - 1, MAX_LENGTH + 1, 0])
def test_lengths_outside_the_range_are_refused(length: int) -> None:
    with pytest.raises(ValueError):
        generate_token(TokenType.NUMERIC, length)


@given(st.text(alphabet=ALPHABETS[TokenType.ALPHANUMERIC], min_size=4, max_size=12), st.data())
def test_alphanumeric_checks_ignore_case_spaces_and_dashes(code: str, data: st.DataObject) -> None:
    typed = "".join(c.lower() if data.draw(st.booleans()) else c for c in code)
    typed = typed[:2] + data.draw(st.sampled_from(["", " ", "-", " - "])) + typed[2:]
    assert normalize_code(TokenType.ALPHANUMERIC, typed) == code


def test_mixed_case_codes_keep_their_case() -> None:
    assert normalize_code(TokenType.ALPHANUMERIC_MIXED, "aB-3 d") == "aB3d"
    assert normalize_code(TokenType.NUMERIC, "123 456") == "123456"
