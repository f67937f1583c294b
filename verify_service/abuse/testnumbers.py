"""Test numbers: fixed codes that are never sent, optionally only until a date.

After `test_numbers_valid_until` a test number is an ordinary number again: it gets a
random code by SMS and every limit applies. Rejecting it instead would lock out whoever
really owns that number, and the point of the date is only that the fixed code (which
skips the send limits) cannot outlive the test campaign it was made for."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from verify_service.config import ServiceSettings


def valid_until(value: date | datetime | None) -> datetime | None:
    """The first instant at which the test numbers no longer work. A date means "through
    that day (UTC)"; a datetime without offset is UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value + timedelta(days=1), time(), tzinfo=UTC)


def fixed_code(service: ServiceSettings, e164: str, now: datetime) -> str | None:
    code = service.test_numbers.get(e164)
    if code is None:
        return None
    until = valid_until(service.test_numbers_valid_until)
    if until is not None and now >= until:
        return None
    return code


def describe(service: ServiceSettings, now: datetime) -> str | None:
    """One start-up log line; only the last digits, so logs do not collect numbers."""
    if not service.test_numbers:
        return None
    shown = ", ".join(f"…{number[-4:]}" for number in sorted(service.test_numbers))
    until = valid_until(service.test_numbers_valid_until)
    if until is None:
        validity = "with no end date"
    elif now >= until:
        validity = f"EXPIRED since {until.isoformat()} (treated as ordinary numbers)"
    else:
        validity = f"until {until.isoformat()}"
    count = len(service.test_numbers)
    return f"service {service.name!r}: {count} test number(s) {shown}, fixed codes {validity}"
