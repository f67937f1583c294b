"""SMS segment counting: GSM-7 (extension characters cost two septets) and UCS-2. The
alphabets are written out here again (3GPP TS 23.038), as an oracle independent of the
module's own tables."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.sms import segments

GSM7 = "gsm7"
UCS2 = "ucs2"
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

basic = st.text(alphabet=sorted(GSM7_BASIC))
gsm = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENDED))
not_gsm = st.characters(
    exclude_characters="".join(GSM7_BASIC | GSM7_EXTENDED), exclude_categories=["Cs"]
)
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))


def septets(text: str) -> int:
    return sum(2 if c in GSM7_EXTENDED else 1 for c in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_known_sizes() -> None:
    assert segments("Your code is 123456") == (GSM7, 1)
    assert segments("a" * 160) == (GSM7, 1)
    assert segments("a" * 161) == (GSM7, 2)
    assert segments("a" * 306) == (GSM7, 2)
    assert segments("a" * 307) == (GSM7, 3)
    assert segments("€" * 80) == (GSM7, 1)  # 160 septets
    assert segments("€" * 81) == (GSM7, 2)
    assert segments("Votre code : 123456 — merci") == (UCS2, 1)  # the dash is not GSM-7
    assert segments("ж" * 70) == (UCS2, 1)
    assert segments("ж" * 71) == (UCS2, 2)
    assert segments("ж" * 134) == (UCS2, 2)
    assert segments("ж" * 135) == (UCS2, 3)
    assert segments("😀" * 35) == (UCS2, 1)  # a surrogate pair each: 70 units
    assert segments("😀" * 36) == (UCS2, 2)
    assert segments("") == (GSM7, 1)


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # Past 160 septets: 152 plain + "€" (2) would be 154 > 153, so "€" opens part two.
    assert segments("a" * 152 + "€") == (GSM7, 1)  # 154 septets still fit one SMS
    assert segments("a" * 152 + "€" + "a" * 151) == (GSM7, 2)  # 305 septets: 152 + 153
    assert segments("a" * 152 + "€" + "a" * 152) == (GSM7, 3)


@given(basic)
def test_plain_gsm_text_costs_160_then_153_per_part(text: str) -> None:
    n = len(text)
    assert segments(text) == (GSM7, 1 if n <= 160 else math.ceil(n / 153))


@given(st.integers(min_value=0, max_value=400))
def test_extension_characters_count_double(k: int) -> None:
    # 76 escape pairs fill 152 of a part's 153 septets; the odd one left cannot take a pair.
    expected = 1 if 2 * k <= 160 else math.ceil(k / 76)
    assert segments("|" * k) == (GSM7, expected)


@given(st.lists(not_gsm, min_size=1), any_text)
def test_one_non_gsm_character_makes_the_whole_text_ucs2(odd: list[str], rest: str) -> None:
    text = rest + "".join(odd)
    encoding, count = segments(text)
    assert encoding == UCS2
    units = utf16_units(text)
    assert count * 67 >= units if units > 70 else count == 1


@given(gsm)
def test_gsm_parts_hold_everything_and_waste_at_most_one_septet_each(text: str) -> None:
    encoding, count = segments(text)
    assert encoding == GSM7
    n = septets(text)
    if n <= 160:
        assert count == 1
    else:
        assert (count - 1) * 152 < n <= count * 153


@given(any_text, st.characters(exclude_categories=["Cs"]))
def test_a_longer_text_never_costs_fewer_messages(text: str, extra: str) -> None:
    assert segments(text + extra)[1] >= segments(text)[1]
