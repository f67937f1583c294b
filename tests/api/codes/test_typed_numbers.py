"""A phone number approves as people type or paste it, in the dialects that take a typed
number (v1 and Twilio; Swisscom's own rule is digits only): any Unicode space or line break
between its groups is a separator, as the ASCII space is (README "A verification").

Observed: numbers formatted by CLDR for fr-CH and French (`079 555 16 01` with U+202F
narrow no-break spaces, what `Intl.NumberFormat` and macOS/iOS produce), thin and figure
spaces from typeset pages, a tab or line break from a spreadsheet cell were each 400
invalid_phone_number, though the no-break space and the ideographic space were accepted."""

from __future__ import annotations

import itertools
import sys

import pytest

from tests.support.dialects import twilio_check, twilio_start, v1_check, v1_start
from tests.support.helpers import Api

SEPARATORS = {
    "narrow no-break space": "\u202f",
    "thin space": "\u2009",
    "figure space": "\u2007",
    "en space": "\u2002",
    "tab": "\t",
    "line feed": "\n",
    "CR LF": "\r\n",
    "line separator": "\u2028",
}
numbers = (f"+417955{n:05d}" for n in itertools.count(100))


def typed(e164: str, separator: str) -> str:
    """`+41 79 555 01 00` with `separator` between the groups."""
    national = e164[3:]
    return separator.join(["+41", national[:2], national[2:5], national[5:7], national[7:]])


@pytest.mark.parametrize("separator", list(SEPARATORS))
async def test_v1_number_with_any_space_is_read(api: Api, separator: str) -> None:
    to = next(numbers)
    r = await v1_start(api, typed(to, SEPARATORS[separator]))
    assert r.json()["to"] == to
    result = await v1_check(api, typed(to, SEPARATORS[separator]), api.last_code(to))
    assert (result["status"], result["valid"]) == ("approved", True)


@pytest.mark.parametrize("separator", list(SEPARATORS))
async def test_twilio_number_with_any_space_is_read(api: Api, separator: str) -> None:
    to = next(numbers)
    r = await twilio_start(api, typed(to, SEPARATORS[separator]))
    assert r.json()["to"] == to
    checked = await twilio_check(api, typed(to, SEPARATORS[separator]), api.last_code(to))
    assert (checked.status_code, checked.json()["status"]) == (200, "approved")


def test_the_separator_table_is_every_space() -> None:
    from verify_service.domain.phones import _SPACES

    spaces = {c for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 0x20}
    assert set(_SPACES) == spaces
