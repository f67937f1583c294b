"""Tokens: alphabets, uniform draws, normalisation of typed codes."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.decorations import Decoration, decorations
from verify_service.domain.tokens import (
    ALPHABETS,
    MAX_LENGTH,
    MIN_LENGTH,
    TokenType,
    generate_token,
    normalize_code,
    problem_with_test_code,
    shape_of,
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


@pytest.mark.parametrize(("token_type", "length"), [(TokenType.NUMERIC, 4), (TokenType.NUMERIC, 5)])
def test_each_draw_names_one_code_and_every_code_has_one_draw(
    token_type: TokenType, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A code is one uniform draw below len(alphabet) ** length, written in that base: if
    # every draw gives a different code of the right shape, every code is equally likely.
    alphabet = ALPHABETS[token_type]
    space = len(alphabet) ** length
    draws = iter(range(space))
    monkeypatch.setattr("secrets.randbelow", lambda n: next(draws) if n == space else -1)
    codes = {generate_token(token_type, length) for _ in range(space)}
    assert len(codes) == space
    assert all(len(code) == length and set(code) <= set(alphabet) for code in codes)


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


@settings(max_examples=500, deadline=None)  # pure, but the machine may be busy
@given(st.sampled_from(TokenType), lengths, decorations)
def test_every_code_is_recovered_however_decorated(
    token_type: TokenType, length: int, decoration: Decoration
) -> None:
    code = generate_token(token_type, length)
    typed = decoration.apply(code, token_type)
    assert normalize_code(token_type, typed) == code
    assert shape_of(typed)[0] == length
    assert token_type in shape_of(typed)[1]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("637544\n", "637544"),
        ("637544\r\n", "637544"),
        ("637\u202f544", "637544"),
        ("637\u2013544", "637544"),
        ("637\u2212544", "637544"),  # the minus sign, offered as a dash
        ("\u0666\u0663\u0667\u0665\u0664\u0664", "637544"),  # Arabic-Indic
        ("\u06f6\u06f3\u06f7\u06f5\u06f4\u06f4", "637544"),  # Eastern Arabic (Persian)
        ("\u096c\u0969\u096d\u096b\u096a\u096a", "637544"),  # Devanagari
        ("\uff16\uff13\uff17\uff15\uff14\uff14", "637544"),  # full width
        ("\ufeff637544\u200d", "637544"),  # BOM, zero-width joiner
    ],
)
def test_observed_inputs(typed: str, code: str) -> None:
    assert normalize_code(TokenType.NUMERIC, typed) == code


def test_symbols_outside_every_alphabet_are_kept_so_the_code_is_refused() -> None:
    # Nothing is guessed: a letter stays a letter, and a numeric code with one cannot match.
    assert shape_of("63754A") == (
        6,
        frozenset({TokenType.ALPHANUMERIC, TokenType.ALPHANUMERIC_MIXED}),
    )
    assert shape_of("6375#4")[1] == frozenset()
    assert shape_of("\u00df234")[1] == frozenset()  # no case mapping that changes lengths
    assert normalize_code(TokenType.ALPHANUMERIC, "ab2c") == "AB2C"
    assert normalize_code(TokenType.ALPHANUMERIC_MIXED, "ab2c") == "ab2c"


@pytest.mark.parametrize(
    ("token_type", "code", "fits"),
    [
        (TokenType.NUMERIC, "1234", True),
        (TokenType.NUMERIC, "12a4", False),
        (TokenType.ALPHANUMERIC, "ABCD", True),
        (TokenType.ALPHANUMERIC, "AB10", False),  # no 0 or 1: look-alikes
        (TokenType.ALPHANUMERIC_MIXED, "aB10", True),
        (TokenType.NUMERIC, "123", False),
        (TokenType.NUMERIC, "1" * 13, False),
    ],
)
def test_test_codes_must_be_possible_codes(token_type: TokenType, code: str, fits: bool) -> None:
    assert (problem_with_test_code(token_type, code) is None) is fits


def normalized_by_the_rule(token_type: TokenType, typed: str) -> str:
    """README "Checking a code", step by step, for every input (no shortcut)."""
    kept = []
    for char in unicodedata.normalize("NFKC", typed):
        if char.isspace() or char == "\u2212" or unicodedata.category(char) in ("Cf", "Pd"):
            continue
        digit = unicodedata.decimal(char, None)
        kept.append(str(digit) if digit is not None else char)
    code = "".join(kept)
    if token_type is TokenType.ALPHANUMERIC:
        code = "".join(c.upper() if c in string.ascii_lowercase else c for c in code)
    return code


@given(
    token_type=st.sampled_from(TokenType),
    typed=st.one_of(
        st.text(alphabet=string.ascii_letters + string.digits, max_size=12),
        st.text(max_size=12),
    ),
)
def test_the_plain_ascii_shortcut_follows_the_rule(token_type: TokenType, typed: str) -> None:
    assert normalize_code(token_type, typed) == normalized_by_the_rule(token_type, typed)
