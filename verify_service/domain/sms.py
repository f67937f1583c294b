"""SMS encoding and segment counting (3GPP TS 23.038 / 23.040).

A text that fits the GSM 7-bit default alphabet (with its extension table) goes out as
GSM-7; anything else as UCS-2, which fits less than half as many characters per SMS.
Providers bill per segment, so both the encoding choice and the count matter."""

from __future__ import annotations

from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

# The GSM 03.38 default alphabet (one septet each); ESC (0x1B) is left out on purpose:
# it only introduces the extension table and is not a character of its own.
_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each takes two septets (ESC + the character).
_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = _BASIC | _EXTENSION

GSM7_SINGLE = 160  # septets in a one-part message
GSM7_PART = 153  # septets per part once a user data header (concatenation) is needed
UCS2_SINGLE = 70  # UTF-16 code units
UCS2_PART = 67


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet or its extension."""
    return _GSM7.issuperset(text)


def _units(text: str, encoding: Encoding) -> list[int]:
    """The size of each character in the encoding's units (septets or UTF-16 units)."""
    if encoding == "gsm7":
        return [2 if c in _EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def segments(text: str) -> tuple[Encoding, int]:
    """The encoding a text needs and how many SMS parts it takes (at least 1).

    A character is never split across two parts: an extension-table character (ESC + char)
    or a UTF-16 surrogate pair that would straddle a boundary starts the next part instead,
    as real SMS centres do, so the count can exceed a plain ceil(units / per_part)."""
    encoding: Encoding = "gsm7" if is_gsm7(text) else "ucs2"
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "gsm7" else (UCS2_SINGLE, UCS2_PART)
    units = _units(text, encoding)
    if sum(units) <= single:
        return encoding, 1
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count += 1
            used = 0
        used += size
    return encoding, count
