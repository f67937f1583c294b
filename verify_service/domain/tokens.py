"""One-time codes: generation with `secrets` and normalisation of what a person typed."""

from __future__ import annotations

import secrets
import string
import unicodedata
from enum import StrEnum


class TokenType(StrEnum):
    NUMERIC = "numeric"
    ALPHANUMERIC = "alphanumeric"
    ALPHANUMERIC_MIXED = "alphanumeric_mixed"


MIN_LENGTH = 4
MAX_LENGTH = 12

# A code's life in seconds, in every API and in the config: a shorter one is too short to
# type the code, a longer one is no longer a one-time code.
MIN_EXPIRES_IN = 30
MAX_EXPIRES_IN = 86400

# Upper case without the look-alikes 0/O, 1/I/L: codes are read off a phone and typed again.
_UNAMBIGUOUS_UPPER = "".join(c for c in string.ascii_uppercase if c not in "OIL")
_UNAMBIGUOUS_DIGITS = "23456789"

ALPHABETS: dict[TokenType, str] = {
    TokenType.NUMERIC: string.digits,
    TokenType.ALPHANUMERIC: _UNAMBIGUOUS_UPPER + _UNAMBIGUOUS_DIGITS,
    TokenType.ALPHANUMERIC_MIXED: string.ascii_letters + string.digits,
}

_ALPHABET_SETS = {token_type: frozenset(alphabet) for token_type, alphabet in ALPHABETS.items()}


def generate_token(token_type: TokenType, length: int) -> str:
    """Draw `length` symbols uniformly from the type's alphabet.

    One draw of `secrets.randbelow(len(alphabet) ** length)` (rejection sampling, so no
    modulo bias), written in base `len(alphabet)` with the alphabet as digits: every code
    of the type and length is equally likely, as with `length` draws of `secrets.choice`,
    at one call to the system's random source instead of `length`."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"token length must be {MIN_LENGTH}-{MAX_LENGTH}, got {length}")
    alphabet = ALPHABETS[token_type]
    base = len(alphabet)
    number = secrets.randbelow(base**length)
    symbols = []
    for _ in range(length):
        number, digit = divmod(number, base)
        symbols.append(alphabet[digit])
    return "".join(symbols)


# The minus sign is a math symbol (Sm), not a dash (Pd), but keyboards offer it as one.
_MINUS = "\u2212"


def _decoration(char: str) -> bool:
    """What typing, input methods, password managers and copy-paste add around a code:
    any Unicode whitespace or line break, a format character (Cf: zero-width spaces,
    joiners, direction marks, the BOM, the soft hyphen) or a dash."""
    return char.isspace() or char == _MINUS or unicodedata.category(char) in ("Cf", "Pd")


def normalize_code(token_type: TokenType, typed: str) -> str:
    """What we hash for a typed code. The rule (README "Checking a code"), in order:

    1. Unicode compatibility form (NFKC): full-width `\uff11\uff12` is `12`;
    2. every decoration dropped (see `_decoration`): `637 544\n`, `637\u2013544` (en
       dash), `637\u202f544` (narrow no-break space);
    3. a decimal digit of any script read as its ASCII digit: Arabic-Indic `\u0666\u0663`
       is `63`;
    4. for `alphanumeric` (upper case only) ASCII letters upper-cased: `ab2cd` is `AB2CD`.

    The result is not checked against the alphabet here: `shape_of` and `in_alphabet`
    say whether it can be a code at all."""
    if typed.isascii() and typed.isalnum():
        # what nearly every check holds: NFKC keeps ASCII letters and digits as they are,
        # none is a decoration and every digit is already ASCII: only step 4 applies
        return typed.upper() if token_type is TokenType.ALPHANUMERIC else typed
    kept = []
    for char in unicodedata.normalize("NFKC", typed):
        if _decoration(char):
            continue
        digit = unicodedata.decimal(char, None)
        kept.append(str(digit) if digit is not None else char)
    code = "".join(kept)
    if token_type is TokenType.ALPHANUMERIC:
        code = "".join(c.upper() if c in string.ascii_lowercase else c for c in code)
    return code


def in_alphabet(token_type: TokenType, code: str) -> bool:
    """Whether every symbol of a normalised `code` is in the alphabet of `token_type`."""
    return _ALPHABET_SETS[token_type].issuperset(code)


def shape_of(typed: str) -> tuple[int, frozenset[TokenType]]:
    """A typed code's length once normalised, and every token type it can be a code of
    (whose alphabet holds all of its normalised symbols). A check of a verification of
    another type or length spends no attempt: no hash could match (README "Checking a
    code"). The length is the same for every type: case folding keeps it."""
    fitting = set()
    length = 0
    for token_type in TokenType:
        code = normalize_code(token_type, typed)
        length = len(code)
        if in_alphabet(token_type, code):
            fitting.add(token_type)
    return length, frozenset(fitting)


def problem_with_test_code(token_type: TokenType, code: str) -> str | None:
    """Why a configured test code (already normalised) can never be approved by a check
    of a `token_type` verification, or None: a check normalises what is typed the same
    way and compares it with the stored code, so the code must be a possible one."""
    if not MIN_LENGTH <= len(code) <= MAX_LENGTH:
        return f"a test code has {MIN_LENGTH}-{MAX_LENGTH} symbols once normalised"
    if not in_alphabet(token_type, code):
        hint = " (no 0, 1, I, L, O)" if token_type is TokenType.ALPHANUMERIC else ""
        return (
            f"test codes of token_type {token_type.value!r} use only {ALPHABETS[token_type]}{hint}"
        )
    return None
