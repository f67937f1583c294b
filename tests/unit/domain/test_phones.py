from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.phones import PhoneNumberError, parse_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("079 123 45 67", "CH", "+41791234567"),
        ("0041 79 123 45 67", "CH", "+41791234567"),
        ("+41 (0)79 123 45 67", "DE", "+41791234567"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+1 650-253-0000", "CH", "+16502530000"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str, e164: str) -> None:
    assert parse_phone(raw, region).e164 == e164


@pytest.mark.parametrize("raw", ["", "1", "+41 12", "hello", "+999 1234567", "0" * 40])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(PhoneNumberError):
        parse_phone(raw, "CH")


@given(st.sampled_from(["CH", "DE", "FR", "US", "GB", "LI"]), st.data())
def test_example_numbers_round_trip(region: str, data: st.DataObject) -> None:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    other = data.draw(st.sampled_from(["CH", "US", "JP"]))
    assert parse_phone(e164, other).e164 == e164
    assert parse_phone(national, region).e164 == e164
    assert parse_phone(national, region).region == region


def test_international_numbers_mean_the_same_under_any_default_region() -> None:
    """Parsing is cached (a flow parses its number more than once): the cache must not
    mix up inputs whose meaning depends on the default region, nor remember errors."""
    from verify_service.domain.phones import PhoneNumberError, parse_phone

    assert parse_phone("+41791234567", "CH") == parse_phone("+41791234567", "ZZ")
    assert parse_phone("0041791234567", "DE").e164 == "+41791234567"
    assert parse_phone("0791234567", "CH").e164 == "+41791234567"
    assert parse_phone("015123456789", "DE").e164 == "+4915123456789"
    for _ in range(2):
        try:
            parse_phone("0791234567", "ZZ")
        except PhoneNumberError:
            pass
        else:
            raise AssertionError("a national number without a region must be refused")


# --- what a number may be written with (README, number rules) ------------------------------
# phonenumbers reads far more than a number: it drops an extension, turns letters into
# keypad digits and cuts words and symbols off. Each would send a code where the caller
# did not mean to: refused, with the reason.

EXTENSIONS = [";ext=12", " x12", " ext. 12", " ext12", " extension 12", "#12", ", 12"]
REGIONS = ["CH", "DE", "FR", "US", "GB", "LI", "IN", "JP"]


def _example(region: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return number


@pytest.mark.parametrize("suffix", EXTENSIONS)
def test_a_number_with_an_extension_is_refused(suffix: str) -> None:
    with pytest.raises(PhoneNumberError, match="has an extension"):
        parse_phone("+41 79 123 45 67" + suffix, "CH")


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("1-800-FLOWERS", "US"),
        ("+1 800 FLOWERS", "US"),
        ("+41 79 I23 45 67", "CH"),  # I typed for 1: not a keypad letter to read
        ("+41 79 ABC 45 67", "CH"),
        ("tel:+41791234567", "CH"),
        ("Tel +41791234567", "CH"),
        ("+41791234567 mobile", "CH"),
        ("+41791234567;isub=12", "CH"),
    ],
)
def test_a_number_with_letters_is_refused(raw: str, region: str) -> None:
    with pytest.raises(PhoneNumberError, match="contains letters"):
        parse_phone(raw, region)


@pytest.mark.parametrize(
    "raw",
    [
        "*+41791234567",
        "+41791234567*",
        "++41791234567",
        "+41791234567,",
        "[+41791234567]",
        "+41 79 123 45 67 #",
        "41+791234567",
        "+41_79_123_45_67",
        "+41791234567!",
    ],
)
def test_a_number_with_other_characters_is_refused(raw: str) -> None:
    with pytest.raises(PhoneNumberError, match="only digits, one leading"):
        parse_phone(raw, "CH")


@given(
    st.sampled_from(REGIONS),
    st.sampled_from(EXTENSIONS),
    st.text("0123456789", min_size=1, max_size=5),
)
def test_any_number_with_any_extension_is_refused(region: str, form: str, digits: str) -> None:
    e164 = phonenumbers.format_number(_example(region), phonenumbers.PhoneNumberFormat.E164)
    with pytest.raises(PhoneNumberError, match="has an extension"):
        parse_phone(e164 + form.replace("12", digits), "ZZ")


@given(st.sampled_from(REGIONS), st.data())
def test_a_letter_anywhere_in_a_number_is_refused(region: str, data: st.DataObject) -> None:
    e164 = phonenumbers.format_number(_example(region), phonenumbers.PhoneNumberFormat.E164)
    at = data.draw(st.integers(1, len(e164)))
    letter = data.draw(st.characters(categories=["L"]))
    # an `x` is where an extension begins (`+41791234567 x12`): either reason is right
    with pytest.raises(PhoneNumberError, match=r"contains letters|has an extension"):
        parse_phone(e164[:at] + letter + e164[at:], "ZZ")


@given(st.sampled_from(REGIONS), st.data())
def test_separators_between_digits_do_not_change_the_number(
    region: str, data: st.DataObject
) -> None:
    e164 = phonenumbers.format_number(_example(region), phonenumbers.PhoneNumberFormat.E164)
    written = "+" + "".join(
        digit + data.draw(st.sampled_from(["", "", " ", "-", ".", "/", "\u202f"]))
        for digit in e164[1:]
    )
    assert parse_phone(written, "ZZ").e164 == e164


def test_an_opening_bracket_and_a_trunk_zero_in_brackets_are_read() -> None:
    assert parse_phone("(+41) 79 123 45 67", "DE").e164 == "+41791234567"
    assert parse_phone("+41 (0)79 123 45 67", "DE").e164 == "+41791234567"
    assert parse_phone("+41\uff17\uff19 123 45 67", "DE").e164 == "+41791234567"  # fullwidth


_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _parse_as_before(text: str, region: str) -> tuple[str, str | None, int] | None:
    """The reading that checked validity and the type in two passes (None: refused)."""
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(parsed),
        phonenumbers.number_type(parsed),
    )


def _example_of_kind(region: str, kind: int, keep: bool) -> str:
    """phonenumbers' example number of `kind` in `region` (E.164), its last digit changed
    unless `keep`; a Swiss mobile number where the region has no example of that kind."""
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return "+41791234567"
    number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    return number if keep else number[:-1] + ("0" if number[-1] != "0" else "1")


@given(
    st.one_of(
        st.builds(
            lambda cc, digits: f"+{cc}{digits}",
            st.sampled_from(_CALLING_CODES),
            st.text(alphabet="0123456789", min_size=4, max_size=13),
        ),
        st.builds(  # the example numbers: valid ones of every type, one digit changed or not
            _example_of_kind,
            st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
            st.sampled_from(range(12)),
            st.booleans(),
        ),
        st.text(alphabet="0123456789", min_size=4, max_size=13),  # national form
    ),
    st.sampled_from(["CH", "US", "GB", "DE", "IT"]),
)
def test_one_type_match_refuses_and_reads_what_two_passes_did(text: str, region: str) -> None:
    # parse_phone reads a leading 00 as + (whatever the region's international prefix)
    written = "+" + text[2:] if text.startswith("00") else text
    before = _parse_as_before(written, "" if written.startswith("+") else region)
    try:
        number = parse_phone(text, region)
    except PhoneNumberError:
        assert before is None
        return
    assert (number.e164, number.region, number.number_type) == before
