"""The one form of every timestamp the service prints (v1 answers, status events, the test
outbox): RFC 3339 in UTC with milliseconds and `Z`, e.g. `2026-01-31T12:00:00.123Z`.
Milliseconds because the store keeps times in ms (Redis TIME, scripts); Twilio's dialect
keeps Twilio's own form (api/twilio/schemas.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """`moment` (aware) as `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
