"""The attempt log on Redis: per service, one sorted set whose members are the packed
records and whose scores are their times (ms), plus one hash indexing them by number (a
field per number: its records' times and ids) for lookups by number or verification. All
of a service's attempt keys share one hash tag (`keys.attempts_tag`): each script
touches one slot, on a Cluster too. Two fields of the index are no number's: `~`, the
cursor of its sweep of stale numbers, and `@`, "<ms>:<since ms>": when the next upkeep
(the trim to the retention, the keys' TTL) is due and a copy of the roll-ups' since key,
so that a write reads neither (attempts_add.lua; docs/performance.md, "Wave 6: the
attempt log's upkeep").

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
judged on Redis's clock with the store's test offset, like every expiry here.

ROLL-UPS. The script that writes records (attempts_add.lua) also counts them, per service
and hour (hour = ms // 3,600,000 of the record's time), in one small hash
(`keys.attempts_hour_key`), so the console's Overview and Providers read 24 or 168 hashes
instead of summing a day or a week of records. The counters (`AttemptStore.rollups`;
only those above 0 exist):

    s:<CC>          starts: verifications whose first record (the first delivery) is in
                    this hour, by country (ISO 3166 alpha-2, empty when unknown)
    a:<CC>          approvals of those starts (attempts_convert.lua, in the start's hour,
                    once per verification), by country
    r:<CC>          starts refused by abuse protection, by country
    n:<provider>    send attempts of the provider (sent or failed)
    k:<provider>    of those, the ones the provider accepted (sent; a delivery report's
                    delivered / undelivered later does not change this)
    l:<provider>:<i> send attempts whose provider call took a time in latency bucket i:
                    the bounds are LATENCY_BOUNDS (seconds, the send histogram's,
                    `verify_send_duration_seconds`), i = 0 .. len(LATENCY_BOUNDS), the last
                    one above 30 s
    d:<provider>    of the accepted ones, those a delivery report says were delivered
    u:<provider>    those a delivery report says were not (and no later report delivered)
    t:<provider>:<i> those with a report (d + u), by the time from the send to the report
                    (the record's `reported`, whole seconds) in bucket i of REPORT_BOUNDS,
                    the last one above an hour
    c:<provider>    approvals whose verification's last accepted send was the provider's
                    (attempts_convert.lua, once per verification)

The delivery-report counters (attempts_dlr.lua) sit in the hour of the *send*, however
late the report comes, and follow the record's state, so a repeated or refused report
counts nothing and undelivered -> delivered moves a send from `u:` to `d:`; `k - d - u`
sends have no report yet. `c:` too is counted in the hour of the send it credits.

Stored fields. `s:`, `a:`, `r:` and `c:` are stored as they are. A send or a report is one
HINCRBY of one field per bucket, and the counters above are sums of these (`counters`):

    A:<provider>:<i> sends the provider accepted whose call took a time in latency bucket i
                    (`-`: not timed): n, k and l
    F:<provider>:<i> sends that failed, the same way: n and l
    D:<provider>:<i> sends a report says were delivered, in report-time bucket i: d and t
    U:<provider>:<i> sends a report says were not: u and t

Versions before wave 5 stored `n:`, `k:`, `l:`, `d:`, `u:` and `t:` themselves (four
HINCRBY per send, two per report); an hour written partly by them is read as the sum of
both forms, and a send they counted undelivered is taken from their fields when a
"delivered" comes (docs/performance.md, "Wave 5: the attempt log's write").

A quantile read from the buckets (`usecases.insights.quantile`, as Prometheus's
histogram_quantile interpolates) is off by at most the width of the bucket it falls in:
25 ms below 0.05 s, 50 ms up to 0.1 s, 150 ms up to 0.25 s, 250 ms up to 0.5 s, 0.5 s up
to 1 s, 1 s up to 2 s, then 3, 5 and 20 s; above 30 s it reads 30 s.

An hour's hash lives the `retention` after the hour's end (its records' lifetime); a
service-hour is about 0.7-2 KB (docs/performance.md; up to 40 KB with hundreds of
countries in one hour), whatever the number of attempts in it. Roll-ups count records
made since `keys.attempts_since_key` (set by the first write of a version that has them):
data older than that stays in the log only, and the console says from when it counts.
Records the log drops beyond `max_per_service` stay counted.
"""

from __future__ import annotations

import bisect
import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verify_service.domain.attempts import (
    Attempt,
    AttemptFilter,
    AttemptStatus,
    attempt_id,
    id_parts,
    ms_of,
    number_prefix,
)
from verify_service.store import keys
from verify_service.store.scripts import Call
from verify_service.store.verifications import Store, store_call

RANDOM_HEX = 20
# The number index is kept small (bytes per attempt): its field is the first 10 hex digits
# of the number's tag and each entry names a record by its time and 8 hex digits. Two
# numbers (or records) that share those are told apart by the reader, which checks the
# number and the verification id of every record it is given.
INDEX_FIELD = 10
REASON_MAX = 40
# The latency buckets of the roll-ups (seconds, upper bounds, inclusive); the same as the
# send histogram's (observability.metrics.SEND_BUCKETS), so both tell the same story.
LATENCY_BOUNDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# The report-time buckets (whole seconds from the send to its delivery report, upper
# bounds, inclusive): most reports come within seconds, some networks report after
# minutes or hours; off by at most a bucket's width, like LATENCY_BOUNDS.
REPORT_BOUNDS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
_REPORT_BOUNDS_ARG = " ".join(str(b) for b in REPORT_BOUNDS)
HOUR_MS = 3_600_000
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


def latency_bucket(seconds: float | None) -> str:
    """The roll-up latency bucket of a provider call: the index of the first bound at or
    above `seconds` ("10" above 30 s), or "-" without a time (a provider skipped)."""
    if seconds is None:
        return "-"
    return str(bisect.bisect_left(LATENCY_BOUNDS, seconds))


def report_bucket(seconds: int) -> int:
    """The roll-up bucket of a report that came `seconds` (whole) after its send, as
    attempts_dlr.lua computes it: the index of the first REPORT_BOUNDS bound at or above
    it, len(REPORT_BOUNDS) above the last."""
    return bisect.bisect_left(REPORT_BOUNDS, seconds)


def hour_of(at_ms: int) -> int:
    return at_ms // HOUR_MS


# The stored kinds each counter is summed from (ROLL-UPS): its own field, as versions
# before wave 5 wrote it, and the per-bucket fields written since.
_SOURCES = {"n": "nAF", "k": "kA", "l": "lAF", "d": "dD", "u": "uU", "t": "tDU"}


def stored_kinds(kinds: str) -> str:
    """The first letters of the stored fields that the counters of `kinds` are summed
    from ('' for every field)."""
    return "".join(sorted({letter for kind in kinds for letter in _SOURCES.get(kind, kind)}))


def counters(flat: Sequence[Any], kinds: str = "") -> dict[str, int]:
    """One hour's counters (ROLL-UPS: `n:`, `k:`, `l:`, `d:`, `u:`, `t:` summed from the
    per-bucket fields and the fields of earlier versions), from its hash's fields and
    values as Redis returns them (flat); only the counters of `kinds` (their first
    letters), every counter when empty."""
    out: dict[str, int] = {}
    packed = []
    pairs = iter(flat)
    for name, value in zip(pairs, pairs, strict=True):
        if name[0] in _PACKED:
            packed.append((name, value))
        else:
            out[name] = int(value)  # stored as it is read, once per hash
    for name, value in packed:
        count = int(value)
        for counter in _counted_in(name, kinds):
            out[counter] = out.get(counter, 0) + count
    return out


_PACKED = frozenset("AFDU")


@functools.lru_cache(maxsize=8192)
def _counted_in(name: str, kinds: str) -> tuple[str, ...]:
    """The counters of `kinds` a stored field adds to (a page reads the same few dozen
    field names in each of its 24 or 168 hours: worked out once)."""
    kind = name[:1]
    if kind in ("A", "F"):
        provider, _, bucket = name[2:].rpartition(":")
        names = [f"n:{provider}"]
        if kind == "A":
            names.append(f"k:{provider}")
        if bucket != "-":
            names.append(f"l:{provider}:{bucket}")
    elif kind in ("D", "U"):
        provider, _, bucket = name[2:].rpartition(":")
        names = [f"{kind.lower()}:{provider}", f"t:{provider}:{bucket}"]
    else:
        names = [name]
    return tuple(counter for counter in names if not kinds or counter[0] in kinds)


@dataclass(frozen=True, slots=True)
class Rollups:
    """A service's roll-ups of some hours: `since` (ms) when they began counting, None
    before the first write; `oldest` (ms) the oldest record in the log, None when empty;
    `hours` the hash of each hour asked for, in order (field -> count, see ROLL-UPS; an
    hour without records is empty)."""

    since: int | None
    oldest: int | None
    hours: list[dict[str, int]]

    @property
    def missing_before(self) -> int | None:
        """`since` when the log holds records older than it that the roll-ups do not
        count (written before the upgrade that added them); else None."""
        if self.since is None or self.oldest is None or self.oldest >= self.since:
            return None
        return self.since


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
    # records the store looked at for this batch (more than `attempts` under a filter)
    looked: int = 0


def filter_spec(filters: AttemptFilter | None) -> str:
    """What attempts_read.lua matches records by, from the fields of `filters` a record
    holds (country, status, channel, provider, converted, number prefix); '' when none is
    set. The reader checks every record it gets against the whole filter again."""
    if filters is None:
        return ""
    fields = (
        filters.country or "",
        _LETTER[filters.status] if filters.status else "",
        filters.channel or "",
        filters.provider or "",
        "" if filters.converted is None else ("1" if filters.converted else "0"),
        (filters.prefix or "").removeprefix("+"),
    )
    if not any(fields) or any("\t" in f or "|" in f for f in fields):
        return ""  # a field no record can hold: the reader's own check refuses them all
    return "\t".join(fields)


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

    async def add(
        self,
        service: str,
        tag: str,
        attempts: Sequence[Attempt],
        *,
        created: bool = False,
        seconds: Sequence[float | None] = (),
    ) -> None:
        """Append `attempts` (all of one number, whose verification `tag` is given) and
        count them in the roll-ups: `created` when they are the first delivery of their
        verification (a start), `seconds` how long each provider call took (None or
        absent: not timed). Raises VerifyError(store_unavailable)."""
        call = self.add_call(service, tag, attempts, created=created, seconds=seconds)
        if call is not None:
            await self.run(call)

    async def run(self, call: Call) -> Any:
        """One prepared call (`add_call`, `convert_call`) on its own; its reply. Raises
        VerifyError(store_unavailable)."""
        with store_call(self._store.deadline, what="the attempt log"):
            return await self._store.scripts.run(call.name, call.keys, call.args)

    def add_call(
        self,
        service: str,
        tag: str,
        attempts: Sequence[Attempt],
        *,
        created: bool = False,
        seconds: Sequence[float | None] = (),
    ) -> Call | None:
        """`add`'s script call (attempts_add.lua, replies 'ok'), to run alone or with the
        send's own record (`Store.record_sends`); None for no attempts."""
        if not attempts:
            return None
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
        args.append("1" if created else "0")
        times = list(seconds) + [None] * (len(attempts) - len(seconds))
        args.append(" ".join(latency_bucket(t) for t in times))
        keys_ = [
            keys.attempts_log_key(service),
            keys.attempts_numbers_key(service),
            keys.attempts_since_key(service),
            *(keys.attempts_hour_key(service, hour_of(score)) for score, _ in packed),
        ]
        return Call("attempts_add", keys_, args)

    async def convert(
        self,
        service: str,
        verification_id: str,
        times_ms: Sequence[int],
        credit_ms: int | None = None,
    ) -> int:
        """Mark converted the attempts of `verification_id` made at `times_ms` (its send
        attempts' times); returns how many changed. `credit_ms`, the time of its last send
        a provider accepted, names the send whose provider the approval is credited to
        (`c:` in the roll-ups); None: none. Raises VerifyError(store_unavailable)."""
        call = self.convert_call(service, verification_id, times_ms, credit_ms)
        return 0 if call is None else int(await self.run(call))

    def convert_call(
        self,
        service: str,
        verification_id: str,
        times_ms: Sequence[int],
        credit_ms: int | None = None,
    ) -> Call | None:
        """`convert`'s script call (attempts_convert.lua, replies how many changed), to
        run alone or after the approval (`Store.finish`); None for no times."""
        if not times_ms:
            return None
        ordered = sorted(set(times_ms))
        args = [own_part(verification_id), " ".join(str(t) for t in ordered)]
        keys_ = [
            keys.attempts_log_key(service),
            keys.attempts_since_key(service),
            keys.attempts_hour_key(service, hour_of(ordered[0])),
        ]
        if credit_ms is not None:
            args.append(str(credit_ms))
            keys_.append(keys.attempts_hour_key(service, hour_of(credit_ms)))
        return Call("attempts_convert", keys_, args)

    async def rollups(self, service: str, hours: Sequence[int], kinds: str = "") -> Rollups:
        """The roll-ups of `hours` (each ms // HOUR_MS), one script call whatever their
        number; only the counters of `kinds` (their letters, ROLL-UPS: "sar" the
        countries' funnels), every counter when empty. Raises
        VerifyError(store_unavailable)."""
        keys_ = [
            keys.attempts_log_key(service),
            keys.attempts_since_key(service),
            *(keys.attempts_hour_key(service, hour) for hour in hours),
        ]
        stored = stored_kinds(kinds)
        with store_call(self._store.deadline, what="the attempt log"):
            reply = list(
                await self._store.scripts.run(
                    "attempts_rollups",
                    keys_,
                    [stored, self._store.clock_offset_ms, self.retention],
                )
            )
        since = int(reply[0]) if reply[0] else None
        oldest = int(float(reply[1])) if reply[1] else None
        return Rollups(since, oldest, [counters(flat, kinds) for flat in reply[2:]])

    async def report(self, service: str, updates: Sequence[DeliveryUpdate]) -> int:
        """Apply delivery reports to the records of `service` and count them in the
        roll-ups of their sends' hours (one call for all of them, attempts_dlr.lua);
        returns how many records changed. A report of a record already delivered, or
        gone, changes nothing. Raises VerifyError(store_unavailable)."""
        wanted = [u for u in updates if u.status in ("delivered", "undelivered")]
        if not wanted:
            return 0
        args = [
            self._store.clock_offset_ms,
            "\n".join(u.line() for u in wanted),
            _REPORT_BOUNDS_ARG,
            self.retention,
        ]
        keys_ = [
            keys.attempts_log_key(service),
            keys.attempts_since_key(service),
            keys.attempts_reports_since_key(service),
            # the hour of each report's send: its counters land with the send's
            *(keys.attempts_hour_key(service, hour_of(u.sent_at_ms)) for u in wanted),
        ]
        with store_call(self._store.deadline, what="the attempt log"):
            changed = await self._store.scripts.run("attempts_dlr", keys_, args)
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
        filters: AttemptFilter | None = None,
        budget: int | None = None,
    ) -> Batch:
        """Up to `count` records, newest first, created in [since_ms, until_ms] (ms,
        inclusive) and below `before` (a `Batch.resume`); from one number's index when
        `tag` is given. With `filters`, Redis returns only records that pass
        `filter_spec(filters)`, looking at `budget` records at most (default `count`);
        `resume` is then the last record looked at. Raises
        VerifyError(store_unavailable)."""
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
        spec = filter_spec(filters)
        args = [
            self._store.clock_offset_ms,
            self.retention,
            top,
            bottom,
            after,
            count,
            field,
            spec,
            budget if budget is not None and spec else count,
        ]
        with store_call(self._store.deadline, what="the attempt log"):
            reply = list(await self._store.scripts.run("attempts_read", keys_, args))
        done, last_score, last_random, looked = reply[0], reply[1], reply[2], reply[3]
        rows = reply[4:]
        attempts = [
            unpack(service, rows[i], rows[i + 1], self._tag_key) for i in range(0, len(rows), 2)
        ]
        resume = (int(float(last_score)), str(last_random)) if last_score else None
        return Batch(attempts, bool(int(done)), resume, int(looked))
