"""Send attempts as an operator sees them (the insight layer, issue 17): one record per try
to hand a code to a provider, and one per start refused by abuse protection. They outlive
the verification (a retention of their own) and say whether it was converted (approved).

Plain values, no I/O: `store.attempts` keeps them, `usecases.attempts` lists and sums them,
the API dialects show them (Twilio's Verification Attempts shapes among them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import phonenumbers

__all__ = [
    "ATTEMPT_STATUSES",
    "GROUPS",
    "Attempt",
    "AttemptFilter",
    "AttemptStatus",
    "GroupBy",
    "SummaryRow",
    "attempt_id",
    "id_parts",
    "mask",
    "ms_of",
    "number_prefix",
]

# `sent`/`failed` when the provider was tried, `delivered`/`undelivered` from delivery
# reports, `refused` when abuse protection said no before any provider was tried.
AttemptStatus = Literal["sent", "failed", "delivered", "undelivered", "refused"]
ATTEMPT_STATUSES: tuple[AttemptStatus, ...] = (
    "sent",
    "failed",
    "delivered",
    "undelivered",
    "refused",
)
GroupBy = Literal["country", "provider", "channel", "day"]
GROUPS: tuple[GroupBy, ...] = ("country", "provider", "channel", "day")

ID_PREFIX = "att_"
# An id is 32 hex digits: the creation time in ms (12), then 20 random ones. The time is
# where the record sits in the log, so a fetch by id is one read; it tells its owner
# nothing that the record does not show them anyway.
_ID = re.compile(rf"^{ID_PREFIX}([0-9a-f]{{12}})([0-9a-f]{{20}})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_of(at: datetime) -> int:
    """Milliseconds since the epoch, truncated (as the send attempts' ISO texts are)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def attempt_id(at_ms: int, random_part: str) -> str:
    """`att_` + 12 hex digits of `at_ms` + the 20 hex digits of `random_part`."""
    return f"{ID_PREFIX}{at_ms:012x}{random_part}"


def id_parts(value: str) -> tuple[int, str] | None:
    """(ms, random part) of a well-formed id; None for anything else."""
    match = _ID.match(value)
    return (int(match.group(1), 16), match.group(2)) if match else None


def mask(e164: str) -> str:
    """`+41791234567` -> `+*******4567`: the last 4 digits only, for listings."""
    digits = e164.removeprefix("+")
    return "+" + "*" * max(0, len(digits) - 4) + digits[-4:]


def number_prefix(e164: str, country: str | None) -> str:
    """The country calling code and the first two national digits (`+4179` for
    `+41791234567`): in most numbering plans the range an operator was given, which is
    what SMS pumping targets. Without a known country, the first 4 digits."""
    code = phonenumbers.country_code_for_region(country) if country else 0
    digits = e164.removeprefix("+")
    width = len(str(code)) + 2 if code else 4
    return "+" + digits[:width]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One send attempt or refusal. `to` is E.164 (callers show `mask(to)` unless asked
    for that number); `provider` is None for a refusal, `verification_id` too; `reason` is
    the provider's error of a failed send or the refusal's rule (a rate-limit layer such
    as `per_number`, `country_blocked`, `fraud_suspected`, `resend_too_soon`, ...);
    `segments` is the SMS parts the message took (0 when nothing was sent); `converted`
    whether its verification was approved; `prefix` the number's `number_prefix`. A
    delivery report sets `status` delivered / undelivered, `reason` to the provider's
    error code (undelivered) and `reported_at`."""

    id: str
    created_at: datetime
    service: str
    status: AttemptStatus
    to: str
    country: str | None
    channel: str
    provider: str | None = None
    verification_id: str | None = None
    reason: str | None = None
    segments: int = 0
    converted: bool = False
    # `number_prefix` of the number, set when read back (it stays when `to` is masked)
    prefix: str = ""
    # when a delivery report set `delivered` / `undelivered` (UTC, whole seconds after
    # the send); None without one
    reported_at: datetime | None = None

    @property
    def day(self) -> str:
        """The UTC day, `2024-05-01`: the `day` group of a summary."""
        return self.created_at.date().isoformat()


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFilter:
    """What a listing or a summary keeps; None = any. `since` is inclusive, `until`
    exclusive (UTC); `to` is E.164; `prefix` an E.164 prefix (`+4179`); `converted`
    picks converted (True) or unconverted (False) attempts."""

    since: datetime | None = None
    until: datetime | None = None
    country: str | None = None
    channel: str | None = None
    provider: str | None = None
    status: AttemptStatus | None = None
    to: str | None = None
    verification_id: str | None = None
    prefix: str | None = None
    converted: bool | None = None

    def matches(self, attempt: Attempt) -> bool:
        """Everything but the time range and the number, which the store reads by."""
        return (
            (self.country is None or attempt.country == self.country)
            and (self.channel is None or attempt.channel == self.channel)
            and (self.provider is None or attempt.provider == self.provider)
            and (self.status is None or attempt.status == self.status)
            and (self.verification_id is None or attempt.verification_id == self.verification_id)
            and (self.prefix is None or attempt.to.startswith(self.prefix))
            and (self.converted is None or attempt.converted == self.converted)
        )


@dataclass(slots=True)
class SummaryRow:
    """Totals of one group (`key` None for the whole filtered set): `total` attempts,
    `converted` of them, `unconverted` the rest; `conversion_rate` = converted / total
    (0.0 for no attempts)."""

    key: str | None
    total: int = 0
    converted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def unconverted(self) -> int:
        return self.total - self.converted

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.total if self.total else 0.0

    def add(self, attempt: Attempt) -> None:
        self.total += 1
        self.converted += attempt.converted
        self.statuses[attempt.status] = self.statuses.get(attempt.status, 0) + 1
