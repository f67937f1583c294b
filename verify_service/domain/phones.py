"""Phone numbers: parse what callers send and normalise it to E.164.

What a number may be written with (README, "number rules"): digits of any script, one `+`
(or `00`) in front, and the separators people and formatters put between groups (any
space, `-`, `.`, `/`, brackets, as in `+41 (0)79 123 45 67`). Everything else is refused
rather than read the way phonenumbers would read it, because each of its lenient readings
sends a code somewhere the caller did not mean:
- an extension (`;ext=12`, `x12`, `ext. 12`, `#12`, `, 12`) would be dropped and the code
  sent to the main line: an extension cannot receive an SMS or a call with a code;
- letters (`1-800-FLOWERS`, or an `O` or `I` typed for `0` or `1`) would be turned into the
  digits of a phone keypad;
- anything else around the number (`tel:`, `*`, a second `+`, words) would be cut off."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers


class PhoneNumberError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    region: str | None  # ISO 3166 alpha-2 of the number, None for non-geographic ranges
    number_type: int  # a phonenumbers.PhoneNumberType value
    # phonenumbers' reading of the number, for what else is derived from it (the fraud
    # guard's ranges: abuse/ranges.py) without parsing it again; never changed.
    parsed: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)


MAX_INPUT_LENGTH = 32
# A flow parses its number three times (start, check by `to`, the region of the approval),
# and phonenumbers' parse is the costliest step of a start's own Python: the answers of
# the last few thousand inputs are kept (an immutable result; errors are not cached).
PARSE_CACHE = 4096
# Every character str.isspace() takes (Unicode White_Space, and the ASCII separators), as
# the ASCII space: a table for str.translate, built once (a test holds it to isspace).
_SPACES = {c: " " for c in (*range(0x09, 0x0E), *range(0x1C, 0x20), 0x85, 0xA0, 0x1680)}
_SPACES |= {c: " " for c in (*range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)}
# After the spaces are made ASCII: an optional opening bracket, one `+`, then digits (\d is
# any script's decimal digits, which phonenumbers reads as such) and separators.
_WRITTEN = re.compile(r"[( ]*\+?[\d ()./-]+")
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script


def parse_phone(raw: str, default_region: str) -> PhoneNumber:
    """`079 123 45 67` with region CH -> `+41791234567`; `0041…` and `+41…` likewise.
    Any Unicode space or line break separates groups as the ASCII space does (phonenumbers
    takes only some: U+202F, which CLDR puts between the groups of fr-CH numbers, or a tab
    pasted from a spreadsheet would make the number unreadable)."""
    text = raw.translate(_SPACES).strip()
    if not text or len(text) > MAX_INPUT_LENGTH:
        raise PhoneNumberError("the number is empty or too long")
    if not _WRITTEN.fullmatch(text):
        raise PhoneNumberError(_why_not_written(text, default_region))
    if text.startswith("00"):
        text = "+" + text[2:]
    # a number in international form means the same whatever the default region
    return _parse(text, "" if text.startswith("+") else default_region)


@lru_cache(maxsize=PARSE_CACHE)
def _parse(text: str, default_region: str) -> PhoneNumber:
    try:
        parsed = phonenumbers.parse(text, default_region or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f"the number cannot be parsed: {exc._msg}") from None
    # The type of a number that is not valid is UNKNOWN, and of a valid one never: one
    # match against the region's patterns where is_valid_number and number_type made two.
    number_type = phonenumbers.number_type(parsed)
    if number_type == phonenumbers.PhoneNumberType.UNKNOWN:
        if not text.startswith("+"):
            # The usual cause: a foreign number typed without its country code.
            raise PhoneNumberError(
                f"the number was read as a national number of {default_region} "
                f"(default_region) and is not valid there; for another country write "
                f"it with its country code: +<country code><number>"
            )
        raise PhoneNumberError("the number is not a valid phone number")
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed),
        number_type=number_type,
        parsed=parsed,
    )


def _why_not_written(text: str, default_region: str) -> str:
    """What is wrong with a number holding characters outside the rules (never echoes it)."""
    try:
        extension = phonenumbers.parse(text, default_region or None).extension
    except phonenumbers.NumberParseException:
        extension = None
    if extension:
        return (
            "the number has an extension; an extension cannot receive a message: "
            "send the number without it"
        )
    if _LETTER.search(text):
        return (
            "the number contains letters; write it in digits (vanity numbers such as "
            "1-800-FLOWERS are not read)"
        )
    return "the number may contain only digits, one leading + and the separators space - . / ( )"


def is_valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS
