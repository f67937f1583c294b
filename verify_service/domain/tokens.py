"""One-time codes: generation with `secrets` and normalisation of what a person typed."""

from __future__ import annotations

import secrets
import string
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

# What people add while typing a code; removing it never changes the code itself.
_SEPARATORS = str.maketrans("", "", " -\t\u00a0")


def generate_token(token_type: TokenType, length: int) -> str:
    """Draw `length` symbols uniformly from the type's alphabet.

    `secrets.choice` uses rejection sampling (`randbelow`), so there is no modulo bias."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"token length must be {MIN_LENGTH}-{MAX_LENGTH}, got {length}")
    alphabet = ALPHABETS[token_type]
    return "".join(secrets.choice(alphabet) for _ in range(length))


def normalize_code(token_type: TokenType, typed: str) -> str:
    """What we hash for a typed code: separators dropped, and for `alphanumeric` (which has
    only upper-case symbols) case folded, so `ab2-cd` checks like `AB2CD`."""
    code = typed.translate(_SEPARATORS)
    if token_type is TokenType.ALPHANUMERIC:
        code = code.upper()
    return code
