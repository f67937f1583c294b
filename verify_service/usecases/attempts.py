"""The attempt log (issue 17): what was sent where, through which provider, what abuse
protection refused, and which of it converted. Written by three hooks of `verifications`:
`send_records` after a delivery and `conversion_call` on approval (store calls that run
in the same script as the send's record and the approval, `written` and
`conversion_done` reading their replies; `converted` runs it alone), and `refused` when
a start is refused (one call); read by the native `/v1/attempts*` routes, the Twilio-compatible
`/v2/Attempts*` ones and the operations console.

Reading API (every method takes the calling service's settings; all raise
VerifyError(store_unavailable) when Redis does not answer in time):

    list(service, AttemptFilter, cursor=None, limit=50) -> AttemptPage
        newest first; `page.next_cursor` is None on the last page; numbers masked
        (`domain.attempts.mask`) unless the filter names one number (`to`).
        Raises VerifyError(invalid_request) for a malformed cursor.
    get(service, attempt_id) -> Attempt        (number masked)
        Raises VerifyError(not_found) for an unknown, foreign or expired id.
    summary(service, AttemptFilter, group_by=None) -> Summary
        `total` over everything the filter keeps, `groups` by country | provider |
        channel | day (UTC), sorted by key.
    check_filter(AttemptFilter) -> None
        Raises VerifyError(invalid_request) for `until` not after `since`, an unknown
        country, a `to` that is not a phone number or a malformed verification id.

Delivery reports reach the log through `reported` (usecases/reports.py).
Writing never fails a start or a check: a record the store did not take is logged and
counted (`AttemptObserver.attempt_log_failed`), the start goes on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from verify_service.config import ServiceSettings, Settings
from verify_service.domain import sms, templates
from verify_service.domain.attempts import (
    Attempt,
    AttemptFilter,
    GroupBy,
    SummaryRow,
    id_parts,
    mask,
    ms_of,
)
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams, Verification
from verify_service.domain.phones import PhoneNumber, PhoneNumberError, is_valid_region, parse_phone
from verify_service.providers.router import DeliveryAttempt
from verify_service.store import keys
from verify_service.store.attempts import AttemptStore, DeliveryUpdate, new_id
from verify_service.store.scripts import Call, failed
from verify_service.usecases.channels import channel_plan

log = logging.getLogger("verify_service.attempts")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Records one listing looks at most before it answers with what it found and a cursor (a
# rare filter over a long log must not hold Redis or the worker for long): Redis matches
# them (attempts_read.lua), SCAN_CALL at a time, so one call holds it a few ms; only the
# matches come back to be unpacked (docs/performance.md, "Operations console pages").
SCAN_BUDGET = 25_000
SCAN_CALL = 5_000
SUMMARY_BATCH = 1000

# A refused start, by error code: the rule that refused it (from the error's extra) or the
# code itself. Other errors (a malformed number, a provider down) are not refusals.
_REFUSALS = {
    "country_not_allowed": "reason",
    "rate_limited": "limit",
    "fraud_suspected": None,
    "resend_too_soon": None,
    "max_send_attempts": None,
}


class AttemptObserver(Protocol):
    """Counters for dashboards (`observability.metrics.MetricsObserver`). Called on the
    event loop; must be quick and must not raise."""

    def attempt_recorded(self, service: str, country: str, channel: str, status: str) -> None:
        """One attempt: `status` sent, failed or refused; `country` ISO 3166 or ""."""

    def verification_started(self, service: str, country: str, channel: str) -> None:
        """A new verification whose code went to a provider (test numbers do not count)."""

    def verification_converted(self, service: str, country: str, channel: str) -> None:
        """A verification with sent codes was approved."""

    def attempt_log_failed(self, service: str) -> None:
        """The store did not take or change a record (the request went on)."""


@dataclass(frozen=True, slots=True)
class AttemptPage:
    attempts: list[Attempt]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Summary:
    total: SummaryRow
    groups: list[SummaryRow]


def refusal_reason(exc: VerifyError) -> str | None:
    """The rule behind a refused start (`per_number`, `country_blocked`, ...); None when
    `exc` is not a refusal by abuse protection."""
    if exc.code not in _REFUSALS:
        return None
    detail_key = _REFUSALS[exc.code]
    return str(exc.extra.get(detail_key) or exc.code) if detail_key else exc.code


def _cursor(at_ms: int, random_part: str) -> str:
    return f"{at_ms:012x}{random_part}"


def _position(cursor: str) -> tuple[int, str]:
    parts = id_parts("att_" + cursor)
    if parts is None:
        raise VerifyError("invalid_request", "the cursor is malformed: pass next_cursor as given")
    return parts


def _group_key(attempt: Attempt, group_by: GroupBy) -> str:
    if group_by == "day":
        return attempt.day
    value = getattr(attempt, group_by)
    return str(value) if value else ""


class Attempts:
    def __init__(self, settings: Settings, store: AttemptStore, observer: AttemptObserver) -> None:
        self._settings = settings
        self._store = store
        self._observer = observer
        self._tag_key = keys.tag_key(settings.id_secret())

    # --- the hooks of verifications ----------------------------------------------------

    def send_records(
        self,
        service: ServiceSettings,
        phone: PhoneNumber,
        *,
        tag: str,
        channel: str,
        verification_id: str,
        attempts: Sequence[DeliveryAttempt],
        template: str,
        token_length: int,
        created: bool,
    ) -> Call | None:
        """The records of one delivery to `phone` (whose verification tag is `tag`),
        counted for the dashboards, as the store call that writes them: it runs with the
        send's own record (`Store.record_sends(attempt_log=...)`: no round trip of its
        own, and before a delivery report can find the message), and `written` reads
        its reply. None when there is nothing to record."""
        country = phone.region or ""
        text = templates.compose(template, "0" * token_length, service.autofill)
        parts = sms.segments(text)[1]
        records = [
            Attempt(
                id=new_id(a.at),
                created_at=a.at,
                service=service.name,
                status=a.status,
                to=phone.e164,
                country=phone.region,
                channel=channel,
                provider=a.provider,
                verification_id=verification_id,
                reason=a.error if a.status != "sent" else None,
                segments=parts if a.status == "sent" else 0,
            )
            # as the verification records them: a provider skipped (breaker open, no
            # time left) is a failed attempt too, so a start that reached nobody shows
            for a in attempts
        ]
        for record in records:
            self._observer.attempt_recorded(service.name, country, channel, record.status)
        if created and records:
            self._observer.verification_started(service.name, country, channel)
        seconds = [a.seconds for a in attempts]
        return self._store.add_call(service.name, tag, records, created=created, seconds=seconds)

    def written(self, service: ServiceSettings, reply: Any) -> None:
        """What the reply of `send_records`'s call means: records the store did not take
        are logged and counted; the start goes on. Never raises."""
        if failed(reply):
            log.warning("attempt log: the records of a send were not written")
            self._observer.attempt_log_failed(service.name)

    async def refused(
        self, service: ServiceSettings, params: StartParams, exc: VerifyError
    ) -> None:
        """Record a start that abuse protection refused (nothing for other errors, or for
        a number that does not parse). Never raises."""
        reason = refusal_reason(exc)
        if reason is None:
            return
        try:
            phone = parse_phone(params.to, self._settings.default_region)
        except PhoneNumberError:
            return
        try:  # the channel the start would have used (the service's workflow may pick it)
            channel = channel_plan(service, params.channel, params.workflow)[0].channel
        except VerifyError:
            channel = params.channel or "sms"
        now = datetime.now(UTC)
        record = Attempt(
            id=new_id(now),
            created_at=now,
            service=service.name,
            status="refused",
            to=phone.e164,
            country=phone.region,
            channel=channel,
            reason=reason,
        )
        self._observer.attempt_recorded(service.name, phone.region or "", channel, "refused")
        await self._write(service.name, phone.e164, [record])

    async def converted(
        self, service: ServiceSettings, verification: Verification, country: str | None = None
    ) -> None:
        """The verification was approved: mark its attempts converted. `country` is the
        number's region when the caller has it (one parse less). Never raises."""
        call = self.conversion_call(service, verification)
        if call is None:  # a test number: nothing was sent, nothing to convert
            return
        self._count_conversion(service, verification, country)
        try:
            await self._store.run(call)
        except VerifyError:
            self._conversion_failed(service)

    def conversion_call(self, service: ServiceSettings, verification: Verification) -> Call | None:
        """`converted`'s store call, to run guarded with the approval itself (one round
        trip: `Store.finish(then=...)`); `conversion_done` reads its reply. None when
        nothing was sent (a test number)."""
        times = [ms_of(a.at) for a in verification.send_attempts]
        if not times:
            return None
        # the approval's provider: the one of the last send a provider accepted
        accepted = [ms_of(a.at) for a in verification.send_attempts if a.status != "failed"]
        credit = max(accepted, default=None)
        return self._store.convert_call(service.name, verification.id, times, credit)

    def conversion_done(
        self,
        service: ServiceSettings,
        verification: Verification,
        reply: Any,
        country: str | None = None,
    ) -> None:
        """After `conversion_call`'s call ran with the approval: counted for the
        dashboards, and a conversion the store did not take logged. Never raises."""
        self._count_conversion(service, verification, country)
        if failed(reply):
            self._conversion_failed(service)

    def _count_conversion(
        self, service: ServiceSettings, verification: Verification, country: str | None
    ) -> None:
        if country is None:
            country = _region(verification.to, self._settings.default_region)
        self._observer.verification_converted(service.name, country, verification.channel)

    def _conversion_failed(self, service: ServiceSettings) -> None:
        log.warning("attempt log: the conversion of a verification was not recorded")
        self._observer.attempt_log_failed(service.name)

    async def reported(self, updates: Sequence[tuple[str, DeliveryUpdate]]) -> None:
        """Delivery reports that changed a send attempt, as (service name, update): their
        records in the attempt log get the status, the error code and the time (one call
        per service). Never raises."""
        by_service: dict[str, list[DeliveryUpdate]] = {}
        for service, update in updates:
            by_service.setdefault(service, []).append(update)
        for service, batch in by_service.items():
            try:
                await self._store.report(service, batch)
            except VerifyError:
                log.warning("attempt log: %d delivery report(s) not recorded", len(batch))
                self._observer.attempt_log_failed(service)

    async def _write(
        self,
        service: str,
        e164: str,
        records: list[Attempt],
        created: bool = False,
        seconds: Sequence[float | None] = (),
    ) -> None:
        try:
            tag = keys.tag_for(self._tag_key, service, e164)
            await self._store.add(service, tag, records, created=created, seconds=seconds)
        except VerifyError:
            log.warning("attempt log: %d record(s) not written", len(records))
            self._observer.attempt_log_failed(service)

    # --- reading ---------------------------------------------------------------------------

    def check_filter(self, filters: AttemptFilter) -> None:
        if filters.since and filters.until and filters.until <= filters.since:
            raise VerifyError("invalid_request", "`until` must be after `since`")
        if filters.country is not None and not is_valid_region(filters.country):
            raise VerifyError(
                "invalid_request", f"unknown country {filters.country!r} (ISO 3166 alpha-2)"
            )
        if filters.verification_id is not None and keys.tag_of_id(filters.verification_id) is None:
            raise VerifyError("invalid_request", "`verification_id` is not a verification id")
        if filters.to is not None:
            self._e164(filters.to)

    def _e164(self, to: str) -> str:
        try:
            return parse_phone(to, self._settings.default_region).e164
        except PhoneNumberError as exc:
            raise VerifyError("invalid_request", f"`to` is not a phone number: {exc}") from None

    def _tag(self, service: ServiceSettings, filters: AttemptFilter) -> str | None:
        if filters.to is not None:
            return keys.tag_for(self._tag_key, service.name, self._e164(filters.to))
        if filters.verification_id is not None:
            return keys.tag_of_id(filters.verification_id)
        return None

    async def list(
        self,
        service: ServiceSettings,
        filters: AttemptFilter,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> AttemptPage:
        self.check_filter(filters)
        limit = max(1, min(limit, MAX_LIMIT))
        before = _position(cursor) if cursor is not None else None
        tag = self._tag(service, filters)
        e164 = self._e164(filters.to) if filters.to is not None else None
        found: list[Attempt] = []
        scanned = 0
        while True:
            batch = await self._store.read(
                service.name,
                tag=tag,
                before=before,
                until_ms=_until_ms(filters.until),
                since_ms=ms_of(filters.since) if filters.since else None,
                count=min(MAX_LIMIT, max(limit + 1, 100)),
                filters=filters,
                budget=min(SCAN_CALL, SCAN_BUDGET - scanned),
            )
            for attempt in batch.attempts:
                if (e164 is None or attempt.to == e164) and filters.matches(attempt):
                    if len(found) == limit:
                        last = found[-1]
                        return AttemptPage(_shown(found, e164), _cursor_of(last))
                    found.append(attempt)
            scanned += max(batch.looked, len(batch.attempts))
            if batch.done or batch.resume is None:
                return AttemptPage(_shown(found, e164), None)
            before = batch.resume
            if scanned >= SCAN_BUDGET:  # a short page; the cursor goes on from here
                return AttemptPage(_shown(found, e164), _cursor(*before))

    async def get(self, service: ServiceSettings, attempt_id: str) -> Attempt:
        parts = id_parts(attempt_id)
        if parts is not None:
            at_ms, _ = parts
            batch = await self._store.read(
                service.name, until_ms=at_ms, since_ms=at_ms, count=MAX_LIMIT
            )
            for attempt in batch.attempts:
                if attempt.id == attempt_id:
                    return replace(attempt, to=mask(attempt.to))
        raise VerifyError("not_found", "no attempt with this id")

    async def summary(
        self,
        service: ServiceSettings,
        filters: AttemptFilter,
        group_by: GroupBy | None = None,
    ) -> Summary:
        self.check_filter(filters)
        tag = self._tag(service, filters)
        e164 = self._e164(filters.to) if filters.to is not None else None
        total = SummaryRow(None)
        groups: dict[str, SummaryRow] = {}
        before: tuple[int, str] | None = None
        while True:
            batch = await self._store.read(
                service.name,
                tag=tag,
                before=before,
                until_ms=_until_ms(filters.until),
                since_ms=ms_of(filters.since) if filters.since else None,
                count=SUMMARY_BATCH,
                filters=filters,
                budget=SCAN_CALL,
            )
            for attempt in batch.attempts:
                if (e164 is None or attempt.to == e164) and filters.matches(attempt):
                    total.add(attempt)
                    if group_by is not None:
                        key = _group_key(attempt, group_by)
                        groups.setdefault(key, SummaryRow(key)).add(attempt)
            if batch.done or batch.resume is None:
                break
            before = batch.resume
        return Summary(total, [groups[k] for k in sorted(groups)])


def _until_ms(until: datetime | None) -> int | None:
    return None if until is None else ms_of(until) - 1


def _region(e164: str, default_region: str) -> str:
    try:
        return parse_phone(e164, default_region).region or ""
    except PhoneNumberError:
        return ""


def _cursor_of(attempt: Attempt) -> str:
    parts = id_parts(attempt.id)
    assert parts is not None  # made by new_id
    return _cursor(*parts)


def _shown(attempts: list[Attempt], e164: str | None) -> list[Attempt]:
    """Numbers masked, unless the caller asked for this one number."""
    if e164 is not None:
        return attempts
    return [replace(a, to=mask(a.to)) for a in attempts]
