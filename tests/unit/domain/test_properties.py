"""Property tests of the pure core: tokens, templates, phone numbers."""

from __future__ import annotations

import math
import string
from collections import Counter

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify_service.domain.phones import PhoneNumberError, parse_phone
from verify_service.domain.templates import PLACEHOLDER, render
from verify_service.domain.tokens import (
    ALPHABETS,
    MAX_LENGTH,
    MIN_LENGTH,
    TokenType,
    generate_token,
    normalize_code,
)

LENGTHS = st.integers(MIN_LENGTH, MAX_LENGTH)
TYPES = st.sampled_from(list(TokenType))

# --- tokens -------------------------------------------------------------------------------


def chi_square_limit(df: int, z: float = 5.3) -> float:
    """Wilson-Hilferty: the chi-square value exceeded with probability ~6e-8 (z = 5.3)."""
    h = 2 / (9 * df)
    return float(df * (1 - h + z * math.sqrt(h)) ** 3)


@pytest.mark.parametrize("token_type", list(TokenType))
def test_every_symbol_appears_at_every_position(token_type: TokenType) -> None:
    """Uniformity, per position: every symbol occurs (a miss has probability below 1e-20
    with 60 draws per symbol), and the counts pass a chi-square test at a level that a fair
    generator fails about once in ten million runs. That catches gross bias (a symbol twice
    as likely, a position stuck); the absence of subtle modulo bias rests on `secrets.randbelow`
    (rejection sampling) and on its draw naming each code exactly once (test_tokens.py),
    not on this sample size."""
    alphabet = ALPHABETS[token_type]
    draws = 60 * len(alphabet)
    expected = draws / len(alphabet)
    tokens = [generate_token(token_type, MAX_LENGTH) for _ in range(draws)]
    for position in range(MAX_LENGTH):
        counts = Counter(token[position] for token in tokens)
        assert set(counts) == set(alphabet), f"position {position} misses symbols"
        chi2 = sum((counts[c] - expected) ** 2 / expected for c in alphabet)
        assert chi2 < chi_square_limit(len(alphabet) - 1), (position, counts)


def test_the_alphanumeric_alphabet_has_no_look_alikes() -> None:
    alphabet = ALPHABETS[TokenType.ALPHANUMERIC]
    assert not set("0O1IL") & set(alphabet)
    assert set(alphabet) <= set(string.ascii_uppercase + string.digits)
    assert len(alphabet) == len(set(alphabet)) == 31


@given(TYPES, LENGTHS)
def test_tokens_have_the_length_and_alphabet_asked_for(token_type: TokenType, length: int) -> None:
    token = generate_token(token_type, length)
    assert len(token) == length
    assert set(token) <= set(ALPHABETS[token_type])


@given(st.integers().filter(lambda n: not MIN_LENGTH <= n <= MAX_LENGTH), TYPES)
def test_lengths_outside_the_range_are_refused(length: int, token_type: TokenType) -> None:
    with pytest.raises(ValueError):
        generate_token(token_type, length)


SEPARATOR = st.sampled_from([" ", "-", "\t", "\u00a0", "  ", " - "])


@st.composite
def typed_by_a_person(draw: st.DrawFn, token_type: TokenType) -> tuple[str, str]:
    """A generated code and how someone might type it: separators anywhere, and for the
    upper-case-only alphabet, any case."""
    code = generate_token(token_type, draw(LENGTHS))
    typed = []
    for symbol in code:
        if draw(st.booleans()):
            typed.append(draw(SEPARATOR))
        if token_type is TokenType.ALPHANUMERIC and draw(st.booleans()):
            symbol = symbol.lower()
        typed.append(symbol)
    if draw(st.booleans()):
        typed.append(draw(SEPARATOR))
    return code, "".join(typed)


@given(st.data(), TYPES)
def test_normalisation_recovers_the_code(data: st.DataObject, token_type: TokenType) -> None:
    code, typed = data.draw(typed_by_a_person(token_type))
    assert normalize_code(token_type, typed) == code


@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=12))
def test_mixed_case_codes_keep_their_case(code: str) -> None:
    assert normalize_code(TokenType.ALPHANUMERIC_MIXED, code) == code
    if code.lower() != code:
        assert normalize_code(TokenType.ALPHANUMERIC_MIXED, code.lower()) != code


# --- templates ----------------------------------------------------------------------------

TEXT = st.text(max_size=40).filter(lambda s: "%TOKEN" not in s and "TOKEN%" not in s)


@given(st.lists(TEXT, min_size=2, max_size=5), TYPES, LENGTHS)
def test_every_placeholder_is_substituted_and_nothing_else_changes(
    parts: list[str], token_type: TokenType, length: int
) -> None:
    token = generate_token(token_type, length)
    rendered = render(PLACEHOLDER.join(parts), token)
    assert rendered == token.join(parts)
    assert PLACEHOLDER not in rendered


@given(TEXT, st.sampled_from(["%token%", "%TOKEN", "TOKEN%", "% TOKEN %", "%%TOKEN%%"[1:-1]]))
def test_near_misses_of_the_placeholder_stay_as_they_are(text: str, near: str) -> None:
    template = f"{text}{near}{text}"
    if PLACEHOLDER in template:
        return
    assert render(template, "123456") == template


# --- phone numbers ------------------------------------------------------------------------

EXAMPLES = [
    number
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@settings(max_examples=300)
@given(st.sampled_from(EXAMPLES), st.sampled_from(FORMATS), st.sampled_from(["CH", "DE", "US"]))
def test_parse_of_format_round_trips(
    number: phonenumbers.PhoneNumber, fmt: int, default_region: str
) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, fmt).removeprefix("tel:")
    assert parse_phone(written, default_region).e164 == e164
    assert parse_phone("00" + e164[1:], default_region).e164 == e164


@given(st.sampled_from(EXAMPLES))
def test_national_format_round_trips_in_its_own_region(number: phonenumbers.PhoneNumber) -> None:
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert parse_phone(national, region).e164 == e164


@given(st.sampled_from(["75", "76", "77", "78", "79"]), st.from_regex(r"\A[0-9]{7}\Z"))
def test_national_swiss_mobile_numbers_become_plus_41(prefix: str, subscriber: str) -> None:
    expected = f"+41{prefix}{subscriber}"
    spaced = f"0{prefix} {subscriber[:3]} {subscriber[3:5]} {subscriber[5:]}"
    for written in (f"0{prefix}{subscriber}", spaced, f"0041{prefix}{subscriber}", expected):
        parsed = parse_phone(written, "CH")
        assert parsed.e164 == expected
        assert parsed.region == "CH"


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        parsed = parse_phone(text, "CH")
    except PhoneNumberError:
        return
    assert parsed.e164.startswith("+")
    assert parsed.e164[1:].isdigit()
    assert len(parsed.e164) <= 16
