"""Number ranges: the nested E.164 prefixes a number belongs to, from its country code
down to its block of 100 numbers. The fraud guard counts traffic per range and blocks the
narrowest range that pumping explains (docs/fraud.md).

The levels follow the numbering plan as `phonenumbers` knows it (ITU-T E.164 and each
country's plan): the country calling code, the national destination code (area code or
mobile network code, `length_of_national_destination_code`), then blocks of 1 000 000,
10 000 and 100 consecutive numbers, the units regulators and operators allocate and
resell, and the shape of a pumping list (sequential or near-sequential numbers fall into
one 100-block). A level that would not be narrower than the one above it is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from verify_service.domain.phones import PhoneNumber

# The service-wide range: only a baseline (the prior of every country), never blocked.
ROOT = "*"
LEVELS = ("service", "country", "ndc", "block_1m", "block_10k", "block_100")
# A start reads a number's ranges twice (the guard's call, then its verdict's country) and
# its approval once more; phonenumbers' parse and NDC lookup are most of a start's guard
# work in Python: the answers for the last few thousand numbers are kept (immutable).
RANGES_CACHE = 4096
# Digits left out of the national number at each block level.
_BLOCK_DIGITS = (("block_1m", 6), ("block_10k", 4), ("block_100", 2))
_RANGE = re.compile(r"^\+[1-9][0-9]{0,14}$")
_NON_DIGITS = re.compile(r"\D+")  # phonenumbers' NON_DIGITS_PATTERN


class RangeError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Range:
    """One range: `prefix` is "+" and its leading digits ("+491521"), or ROOT; `level` one
    of LEVELS ("custom" for a prefix an operator wrote that is no level of ours);
    `country` the ISO 3166 region of its calling code ("001" non-geographic, "" ROOT)."""

    prefix: str
    level: str
    country: str


NON_GEOGRAPHIC = "001"  # the country of a number without a region (+800, +882, ...)

# Numbers being handed to `ranges_of` by `ranges_of_phone`, as the start read them, by
# E.164: `ranges_of`'s cache stays keyed by the plain text (every caller's hits are the
# same), and its work on a miss uses the reading instead of a second parse. An entry lives
# for the one call (no await in between).
_readings: dict[str, PhoneNumber] = {}


@lru_cache(maxsize=RANGES_CACHE)
def ranges_of(e164: str) -> tuple[Range, ...]:
    """The ranges of a valid E.164 number, broadest first, starting with ROOT.
    `+4915212345678` -> *, +49, +491521, +4915212, +491521234, +49152123456.
    Kept for the last RANGES_CACHE numbers (a flow asks three times)."""
    read = _readings.get(e164)
    if read is not None and read.parsed is not None:
        # the region too was read by parse_phone (region_code_for_number, ~3 µs for +1)
        number, number_type, region = read.parsed, read.number_type, read.region
    else:
        number = phonenumbers.parse(e164)
        number_type, region = None, phonenumbers.region_code_for_number(number)
    code = str(number.country_code)
    national = phonenumbers.national_significant_number(number)
    country = region or NON_GEOGRAPHIC
    found = [Range(ROOT, "service", ""), Range(f"+{code}", "country", country)]
    ndc = (
        phonenumbers.length_of_national_destination_code(number)
        if number_type is None
        else _ndc_length(number, number_type)
    )
    depth = 0
    if 0 < ndc < len(national):
        found.append(Range(f"+{code}{national[:ndc]}", "ndc", country))
        depth = ndc
    for level, dropped in _BLOCK_DIGITS:
        keep = len(national) - dropped
        if keep > depth:
            found.append(Range(f"+{code}{national[:keep]}", level, country))
            depth = keep
    return tuple(found)


def ranges_of_phone(phone: PhoneNumber) -> tuple[Range, ...]:
    """`ranges_of(phone.e164)`, from the number as `parse_phone` read it: no second parse
    and no second classification of its type (~20 µs of a start's CPU)."""
    e164 = phone.e164
    if phone.parsed is None:
        return ranges_of(e164)
    _readings[e164] = phone
    try:
        return ranges_of(e164)
    finally:
        _readings.pop(e164, None)


def country_of(phone: PhoneNumber) -> str:
    """The number's country, as its ranges, the per_country limit and the metrics name it:
    its region, NON_GEOGRAPHIC for a non-geographic range (`ranges_of_phone(phone)[1]`)."""
    return phone.region or NON_GEOGRAPHIC


def _ndc_length(number: phonenumbers.PhoneNumber, number_type: int) -> int:
    """`phonenumbers.length_of_national_destination_code(number)` for a number without an
    extension whose type is known (that function works it out again, ~5 µs: every
    pattern of the region). Its steps, in its order; held to it by a property test over
    every region (tests/unit/abuse/test_fraud_ranges.py)."""
    groups = _NON_DIGITS.split(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )
    # "+CC NDC SUBSCRIBER...": the first group is empty (before "+"), the second the
    # country calling code, the third the NDC when a group follows it.
    if len(groups) <= 3:
        return 0
    # A mobile token formatted apart (Argentina's "9") is part of a mobile number's NDC.
    if number_type == phonenumbers.PhoneNumberType.MOBILE and phonenumbers.country_mobile_token(
        number.country_code or 0  # never None for a parsed number
    ):
        return len(groups[2]) + len(groups[3])
    return len(groups[2])


def prefixes_of(e164: str) -> list[str]:
    """Every prefix of the number from its first digit to the whole number: the candidates
    an allow-list entry may match ("+4", "+49", ..., "+4915212345678")."""
    return [e164[:i] for i in range(2, len(e164) + 1)]


def parse_range(text: str) -> Range:
    """An operator's range: an E.164 prefix whose leading digits are a country calling
    code (the "+" may be left out). RangeError says what is wrong."""
    value = text.strip()
    if not value.startswith("+"):
        value = "+" + value
    if not _RANGE.fullmatch(value):
        raise RangeError("write the range as an E.164 prefix: '+' and 1-15 digits, e.g. +491521")
    for length in range(1, min(3, len(value) - 1) + 1):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(value[1 : 1 + length]))
        if regions:
            # The calling code's main region (+1 is "US" for Canada's area codes too).
            level = "country" if len(value) == 1 + length else "custom"
            return Range(value, level, regions[0])
    raise RangeError(f"{value} does not start with a country calling code")
