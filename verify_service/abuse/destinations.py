"""Geo permissions and number types: pure rules on a parsed number, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers

from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumber

# Types that can receive an SMS. FIXED_LINE_OR_MOBILE is where a plan does not tell them
# apart (US, CA, ...): refusing it would refuse every North American number.
MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)

_TYPE_NAMES = {
    value: name.lower()
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if not name.startswith("_") and isinstance(value, int)
}


def type_name(number_type: int) -> str:
    return _TYPE_NAMES.get(number_type, "unknown")


def check_destination(
    phone: PhoneNumber,
    *,
    allowed_countries: Sequence[str],
    blocked_countries: Sequence[str],
    blocked_prefixes: Sequence[str],
    mobile_only: bool,
) -> None:
    """Raise `country_not_allowed` (403) or `invalid_phone_number` (400) with a `reason`
    a caller can act on; return quietly when the number may receive a code."""
    region = phone.region or "non-geographic"
    if allowed_countries and phone.region not in allowed_countries:
        raise VerifyError(
            "country_not_allowed",
            f"this service does not send to {region}",
            extra={"reason": "country_not_in_allowed_countries", "country": region},
        )
    if phone.region in blocked_countries:
        raise VerifyError(
            "country_not_allowed",
            f"this service does not send to {region}",
            extra={"reason": "country_blocked", "country": region},
        )
    for prefix in blocked_prefixes:
        if phone.e164.startswith(prefix):
            raise VerifyError(
                "country_not_allowed",
                f"this service does not send to numbers starting with {prefix}",
                extra={"reason": "prefix_blocked", "prefix": prefix},
            )
    if mobile_only and phone.number_type not in MOBILE_TYPES:
        kind = type_name(phone.number_type)
        raise VerifyError(
            "invalid_phone_number",
            f"this service sends only to mobile numbers; this one is {kind.replace('_', '-')}",
            extra={"reason": "not_mobile", "number_type": kind},
        )
