"""GSM-7 detection and SMS segment counting (what a message costs)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.sms import _BASIC, _EXTENSION, is_gsm7, segments

BASIC = "".join(sorted(_BASIC))
EXTENSION = "".join(sorted(_EXTENSION))
gsm_text = st.text(alphabet=BASIC + EXTENSION)
non_gsm_char = st.characters(blacklist_characters=BASIC + EXTENSION, blacklist_categories=("Cs",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("gsm7", 1)),
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("€" * 80, ("gsm7", 1)),  # extension characters take two septets
        ("€" * 81, ("gsm7", 2)),
        ("Grüße, Ihr Code: 482913", ("gsm7", 1)),
        ("ж" * 70, ("ucs2", 1)),
        ("ж" * 71, ("ucs2", 2)),
        ("ж" * 134, ("ucs2", 2)),
        ("ж" * 135, ("ucs2", 3)),
        ("😀" * 35, ("ucs2", 1)),  # a surrogate pair is two UTF-16 units
        ("😀" * 36, ("ucs2", 2)),
        # An escape pair or surrogate pair is never split: it moves to the next part.
        ("a" * 152 + "€" + "a" * 152, ("gsm7", 3)),
        ("ж" * 66 + "😀" + "ж" * 66, ("ucs2", 3)),
    ],
)
def test_known_counts(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


def test_the_alphabet_is_the_full_default_table_without_escape() -> None:
    assert len(_BASIC) == 127
    assert len(_EXTENSION) == 10
    assert "\x1b" not in _BASIC


@given(gsm_text)
def test_gsm_text_is_gsm7(text: str) -> None:
    assert is_gsm7(text)
    assert segments(text)[0] == "gsm7"


@given(gsm_text, non_gsm_char, gsm_text)
def test_one_foreign_character_makes_it_ucs2(before: str, char: str, after: str) -> None:
    text = before + char + after
    assert not is_gsm7(text)
    assert segments(text)[0] == "ucs2"


def _units(text: str) -> int:
    if is_gsm7(text):
        return sum(2 if c in _EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


@given(st.one_of(gsm_text, st.text()))
def test_count_is_between_plain_division_and_one_lost_unit_per_part(text: str) -> None:
    encoding, count = segments(text)
    single, part = (160, 153) if encoding == "gsm7" else (70, 67)
    units = _units(text)
    if units <= single:
        assert count == 1
    else:
        # Not splitting a two-unit character wastes at most one unit per part.
        assert math.ceil(units / part) <= count <= math.ceil(units / (part - 1))


@given(gsm_text, st.sampled_from(BASIC + EXTENSION))
def test_appending_never_lowers_the_count(text: str, char: str) -> None:
    assert segments(text + char)[1] >= segments(text)[1]
