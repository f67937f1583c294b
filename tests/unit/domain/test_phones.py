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
