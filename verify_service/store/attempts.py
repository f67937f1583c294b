"""The attempt log on Redis: per service, one sorted set whose members are the packed
records and whose scores are their times (ms), plus one hash indexing them by number (a
field per number: its records' times and ids) for lookups by number or verification. All
of a service's attempt keys share one hash tag (`keys.attempts_tag`): each script
touches one slot, on a Cluster too.

A record is one `|`-separated string, about 70 bytes (docs/performance.md has the bytes
per attempt, indexes included):

    <random 20 hex>|<converted 0/1>|<status letter>|<verification id's own 16 hex, or
    empty>|<channel>|<provider>|<country>|<E.164 digits>|<segments>|<reason>[|<reported>]

The first fields sit at fixed offsets (attempts_convert.lua reads them there); `reason`
is cut to REASON_MAX characters, `|` and line breaks replaced. A delivery report
(attempts_dlr.lua) sets the status letter, puts the provider's error code in `reason`
(undelivered) and adds `reported`: when the report came, in whole seconds after the send
(a few bytes, on the records that have a report only).

Time: a record's score is when the attempt was made (the send attempt's own `at`, which
the verification keeps too, so that an approval finds its attempts by score); retention is
judged on Redis's clock with the store's test offset, like every expiry here."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verify_service.domain.attempts import (
    Attempt,
    AttemptStatus,
    attempt_id,
    id_parts,
    ms_of,
    number_prefix,
)
from verify_service.store import keys
from verify_service.store.verifications import Store, store_call

RANDOM_HEX = 20
# The number index is kept small (bytes per attempt): its field is the first 10 hex digits
# of the number's tag and each entry names a record by its time and 8 hex digits. Two
# numbers (or records) that share those are told apart by the reader, which checks the
# number and the verification id of every record it is given.
INDEX_FIELD = 10
REASON_MAX = 40
# Index entries kept per number: a number attacked with thousands of starts keeps the
# newest (its older records stay in the log, found by time, not by number).
MAX_PER_NUMBER = 200

_LETTER: dict[AttemptStatus, str] = {
    "sent": "s",
    "failed": "f",
    "delivered": "d",
    "undelivered": "u",
    "refused": "r",
}
_STATUS: dict[str, AttemptStatus] = {letter: status for status, letter in _LETTER.items()}


def _clean(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ").replace("\r", " ")[:REASON_MAX]


def pack(attempt: Attempt) -> tuple[int, str]:
    """(score, member) of `attempt`. Raises ValueError for an id not made by `new_id`."""
    parts = id_parts(attempt.id)
    if parts is None:
        raise ValueError(f"not an attempt id: {attempt.id!r}")
    at_ms, random_part = parts
    verification = own_part(attempt.verification_id) if attempt.verification_id else ""
    fields = (
        random_part,
        "1" if attempt.converted else "0",
        _LETTER[attempt.status],
        verification,
        _clean(attempt.channel),
        _clean(attempt.provider or ""),
        attempt.country or "",
        attempt.to.removeprefix("+"),
        str(attempt.segments),
        _clean(attempt.reason or ""),
    )
    return at_ms, "|".join(fields)


def unpack(service: str, score: str | float, member: str, tag_key: bytes) -> Attempt:
    """The inverse of `pack` (the service is the log's, not in the record)."""
    at_ms = int(float(score))
    fields = member.split("|", 10)
    random_part, converted, letter, verification, channel, provider, country = fields[:7]
    digits, segs, reason = fields[7:10]
    reported = fields[10] if len(fields) > 10 and fields[10].isdigit() else None
    return Attempt(
        id=attempt_id(at_ms, random_part),
        created_at=datetime.fromtimestamp(at_ms / 1000, UTC),
        service=service,
        status=_STATUS[letter],
        to="+" + digits,
        country=country or None,
        channel=channel,
        provider=provider or None,
        verification_id=(
            keys.ID_PREFIX + keys.tag_for(tag_key, service, "+" + digits) + verification
            if verification
            else None
        ),
        reason=reason or None,
        segments=int(segs),
        converted=converted == "1",
        prefix=number_prefix("+" + digits, country or None),
        reported_at=(
            None if reported is None else datetime.fromtimestamp(at_ms / 1000 + int(reported), UTC)
        ),
    )


def own_part(verification_id: str) -> str:
    """What a record keeps of a verification id: its last 16 hex digits. The rest is the
    number's tag (`keys.new_id`), which the reader computes from the number again: 16 bytes
    less per record, the difference between two allocator size classes (80 and 96 B)."""
    return verification_id[-16:]


def new_id(at: datetime) -> str:
    return attempt_id(ms_of(at), secrets.token_hex(RANDOM_HEX // 2))


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A delivery report for the attempt log: the send attempt of `verification_id` by
    `provider` made at `sent_at_ms` is now `status`; `code` is the provider's error code
    or status word (never message text), kept for an undelivered one."""

    verification_id: str
    provider: str
    sent_at_ms: int
    status: AttemptStatus  # delivered | undelivered
    code: str | None = None

    def line(self) -> str:
        def clean(text: str) -> str:
            return _clean(text).replace("\t", " ")

        letter = _LETTER[self.status]
        code = clean(self.code or "")
        return "\t".join(
            (
                str(self.sent_at_ms),
                own_part(self.verification_id),
                clean(self.provider),
                letter,
                code,
            )
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """Records of one read, newest first; `done` when nothing older is left; `resume` is
    the (score, random part) below which the next read goes on."""

    attempts: list[Attempt]
    done: bool
    resume: tuple[int, str] | None


class AttemptStore:
    """The attempt log of every service, on the verification store's client, scripts,
    deadline and clock."""

    def __init__(
        self, store: Store, *, tag_key: bytes, retention: int, max_per_service: int
    ) -> None:
        self._store = store
        # Rebuilds a record's verification id from its number (keys.tag_for).
        self._tag_key = tag_key
        self.retention = retention
        self.max_per_service = max_per_service

    async def add(self, service: str, tag: str, attempts: Sequence[Attempt]) -> None:
        """Append `attempts` (all of one number, whose verification `tag` is given).
        Raises VerifyError(store_unavailable)."""
        if not attempts:
            return
        args: list[Any] = [
            self._store.clock_offset_ms,
            self.retention,
            self.max_per_service,
            MAX_PER_NUMBER,
            tag[:INDEX_FIELD],
        ]
        packed = [pack(attempt) for attempt in attempts]
        args.append(" ".join(str(score) for score, _ in packed))
        args.append("\n".join(member for _, member in packed))
        keys_ = [keys.attempts_log_key(service), keys.attempts_numbers_key(service)]
        with store_call(self._store.deadline, what="the attempt log"):
            await self._store.scripts.run("attempts_add", keys_, args)

    async def convert(self, service: str, verification_id: str, times_ms: Sequence[int]) -> int:
        """Mark converted the attempts of `verification_id` made at `times_ms` (its send
        attempts' times); returns how many changed. Raises VerifyError(store_unavailable)."""
        if not times_ms:
            return 0
        times = " ".join(str(t) for t in sorted(set(times_ms)))
        args = [own_part(verification_id), times]
        with store_call(self._store.deadline, what="the attempt log"):
            changed = await self._store.scripts.run(
                "attempts_convert", [keys.attempts_log_key(service)], args
            )
        return int(changed)

    async def report(self, service: str, updates: Sequence[DeliveryUpdate]) -> int:
        """Apply delivery reports to the records of `service` (one call for all of them,
        attempts_dlr.lua); returns how many records changed. A report of a record already
        delivered, or gone, changes nothing. Raises VerifyError(store_unavailable)."""
        wanted = [u for u in updates if u.status in ("delivered", "undelivered")]
        if not wanted:
            return 0
        args = [self._store.clock_offset_ms, "\n".join(u.line() for u in wanted)]
        with store_call(self._store.deadline, what="the attempt log"):
            changed = await self._store.scripts.run(
                "attempts_dlr", [keys.attempts_log_key(service)], args
            )
        return int(changed)

    async def read(
        self,
        service: str,
        *,
        tag: str | None = None,
        before: tuple[int, str] | None = None,
        until_ms: int | None = None,
        since_ms: int | None = None,
        count: int = 100,
    ) -> Batch:
        """Up to `count` records, newest first, created in [since_ms, until_ms] (ms,
        inclusive) and below `before` (a `Batch.resume`); from one number's index when
        `tag` is given. Raises VerifyError(store_unavailable)."""
        if before is not None:
            top: str = str(before[0] if until_ms is None else min(before[0], until_ms))
            after = before[1] if until_ms is None or before[0] <= until_ms else ""
        else:
            top, after = ("+inf" if until_ms is None else str(until_ms)), ""
        keys_ = [keys.attempts_log_key(service)]
        if tag is not None:
            keys_.append(keys.attempts_numbers_key(service))
        bottom = 0 if since_ms is None else since_ms
        field = (tag or "")[:INDEX_FIELD]
        args = [self._store.clock_offset_ms, self.retention, top, bottom, after, count, field]
        with store_call(self._store.deadline, what="the attempt log"):
            reply = list(await self._store.scripts.run("attempts_read", keys_, args))
        done, last_score, last_random = reply[0], reply[1], reply[2]
        rows = reply[3:]
        attempts = [
            unpack(service, rows[i], rows[i + 1], self._tag_key) for i in range(0, len(rows), 2)
        ]
        resume = (int(float(last_score)), str(last_random)) if last_score else None
        return Batch(attempts, bool(int(done)), resume)
