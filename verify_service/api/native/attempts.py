"""Native API v1: the attempt log of the calling service (README "Attempts and
conversion"). `GET /v1/attempts` (newest first, cursor paging), `GET /v1/attempts/{id}`,
`GET /v1/attempts/summary` (totals, converted, conversion rate; grouped on request).
Translation only: the rules are those of `usecases.attempts`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter

from verify_service.api.deps import bearer_service
from verify_service.api.native.routes import _problems
from verify_service.config import ServiceSettings
from verify_service.domain.attempts import (
    Attempt,
    AttemptFilter,
    AttemptStatus,
    GroupBy,
    SummaryRow,
)
from verify_service.usecases.attempts import DEFAULT_LIMIT, MAX_LIMIT, Attempts


class AttemptOut(msgspec.Struct, kw_only=True):
    id: str
    created_at: datetime
    status: AttemptStatus
    reason: str | None
    to: Annotated[
        str, msgspec.Meta(description="E.164; masked to the last 4 digits unless `to` was asked")
    ]
    prefix: Annotated[str, msgspec.Meta(description="Country calling code + 2 digits.")]
    country: str | None
    channel: str
    provider: str | None
    verification_id: str | None
    segments: int
    converted: bool


class AttemptListOut(msgspec.Struct, kw_only=True):
    attempts: list[AttemptOut]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="Pass as `cursor` for the next page; null at the end.")
    ]


class TotalsOut(msgspec.Struct, kw_only=True):
    total: int
    converted: int
    unconverted: int
    conversion_rate: Annotated[float, msgspec.Meta(description="converted / total, 0 to 1.")]
    statuses: dict[str, int]


class GroupOut(TotalsOut, kw_only=True):
    key: Annotated[str, msgspec.Meta(description='The group\'s value ("" when not known).')]


class SummaryOut(msgspec.Struct, kw_only=True):
    group_by: GroupBy | None
    totals: TotalsOut
    groups: list[GroupOut]


def attempt_out(a: Attempt) -> AttemptOut:
    return AttemptOut(
        id=a.id,
        created_at=a.created_at,
        status=a.status,
        reason=a.reason,
        to=a.to,
        prefix=a.prefix,
        country=a.country,
        channel=a.channel,
        provider=a.provider,
        verification_id=a.verification_id,
        segments=a.segments,
        converted=a.converted,
    )


def _totals(row: SummaryRow) -> TotalsOut:
    return TotalsOut(
        total=row.total,
        converted=row.converted,
        unconverted=row.unconverted,
        conversion_rate=round(row.conversion_rate, 6),
        statuses=row.statuses,
    )


def _group(row: SummaryRow) -> GroupOut:
    return GroupOut(key=row.key or "", **msgspec.structs.asdict(_totals(row)))


def _utc(value: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, as every time this API shows.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


Since = Annotated[
    datetime | None, QueryParameter(description="Created at or after (ISO 8601; UTC if no offset).")
]
Until = Annotated[datetime | None, QueryParameter(description="Created before (ISO 8601).")]
Country = Annotated[
    str | None, QueryParameter(min_length=2, max_length=2, description="ISO 3166 alpha-2.")
]
Channel = Annotated[str | None, QueryParameter(min_length=1, max_length=16)]
ProviderName = Annotated[str | None, QueryParameter(min_length=1, max_length=64)]
Status = Annotated[AttemptStatus | None, QueryParameter()]
To = Annotated[
    str | None,
    QueryParameter(min_length=1, max_length=32, description="One number: shown unmasked."),
]
VerificationIdFilter = Annotated[str | None, QueryParameter(min_length=1, max_length=64)]
Prefix = Annotated[
    str | None,
    QueryParameter(pattern=r"^\+[0-9]{1,15}$", description="E.164 prefix, e.g. `+4179`."),
]
Converted = Annotated[bool | None, QueryParameter(description="Only converted / unconverted.")]


def _filter(
    since: datetime | None,
    until: datetime | None,
    country: str | None,
    channel: str | None,
    provider: str | None,
    status: AttemptStatus | None,
    to: str | None,
    verification_id: str | None,
    prefix: str | None,
    converted: bool | None,
) -> AttemptFilter:
    return AttemptFilter(
        since=_utc(since),
        until=_utc(until),
        country=country.upper() if country else None,
        channel=channel,
        provider=provider,
        status=status,
        to=to,
        verification_id=verification_id,
        prefix=prefix,
        converted=converted,
    )


class AttemptsController(Controller):
    path = "/v1/attempts"
    tags = ["attempts"]
    security = [{"bearer": []}]
    dependencies = {"service": Provide(bearer_service, sync_to_thread=False)}

    @get(
        "/",
        summary="List send attempts and refused starts, newest first",
        description="Numbers are masked to their last 4 digits unless `to` names one. "
        "Pages follow `next_cursor`; each attempt is on exactly one page.",
        operation_id="listAttempts",
        responses=_problems(400, 401, 503),
    )
    async def list_attempts(
        self,
        service: NamedDependency[ServiceSettings],
        attempts: NamedDependency[Attempts],
        since: Since = None,
        until: Until = None,
        country: Country = None,
        channel: Channel = None,
        provider: ProviderName = None,
        status: Status = None,
        to: To = None,
        verification_id: VerificationIdFilter = None,
        prefix: Prefix = None,
        converted: Converted = None,
        cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> AttemptListOut:
        filters = _filter(
            since, until, country, channel, provider, status, to, verification_id, prefix, converted
        )
        page = await attempts.list(service, filters, cursor=cursor, limit=limit)
        return AttemptListOut(
            attempts=[attempt_out(a) for a in page.attempts], next_cursor=page.next_cursor
        )

    @get(
        "/summary",
        summary="Attempts, conversions and conversion rate, grouped on request",
        operation_id="summarizeAttempts",
        responses=_problems(400, 401, 503),
    )
    async def summary(
        self,
        service: NamedDependency[ServiceSettings],
        attempts: NamedDependency[Attempts],
        since: Since = None,
        until: Until = None,
        country: Country = None,
        channel: Channel = None,
        provider: ProviderName = None,
        status: Status = None,
        to: To = None,
        verification_id: VerificationIdFilter = None,
        prefix: Prefix = None,
        converted: Converted = None,
        group_by: Annotated[GroupBy | None, QueryParameter()] = None,
    ) -> SummaryOut:
        filters = _filter(
            since, until, country, channel, provider, status, to, verification_id, prefix, converted
        )
        result = await attempts.summary(service, filters, group_by)
        return SummaryOut(
            group_by=group_by,
            totals=_totals(result.total),
            groups=[_group(row) for row in result.groups],
        )

    @get(
        "/{attempt_id:str}",
        summary="Fetch one attempt",
        operation_id="fetchAttempt",
        responses=_problems(400, 401, 404, 503),
    )
    async def fetch(
        self,
        attempt_id: Annotated[
            str, PathParameter(min_length=1, max_length=64, description="Attempt id (att_…)")
        ],
        service: NamedDependency[ServiceSettings],
        attempts: NamedDependency[Attempts],
    ) -> AttemptOut:
        return attempt_out(await attempts.get(service, attempt_id))
