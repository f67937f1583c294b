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
from litestar.openapi.spec import OpenAPIFormat
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
from verify_service.domain.errors import VerifyError
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
    reported_at: Annotated[
        datetime | None,
        msgspec.Meta(
            description="When a delivery report set `delivered` or `undelivered` (to the "
            "second; `reason` then holds the provider's error code); null without one."
        ),
    ] = None


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
        reported_at=a.reported_at,
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


def parse_time(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 date-time (RFC 3339; a date alone is its midnight), UTC when it has no
    offset. Raises VerifyError(invalid_request) naming `name` for anything else: a bare
    number is not taken as a Unix time."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise VerifyError(
            "invalid_request", f"`{name}` is not an ISO 8601 date-time: {text[:40]!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Since = Annotated[
    str | None,
    QueryParameter(
        format=OpenAPIFormat.DATE_TIME,
        max_length=40,
        description="Created at or after (ISO 8601; UTC if no offset).",
    ),
]
Until = Annotated[
    str | None,
    QueryParameter(
        format=OpenAPIFormat.DATE_TIME, max_length=40, description="Created before (ISO 8601)."
    ),
]
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


def attempt_filter(
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
) -> AttemptFilter:
    """The filter query of a listing and a summary (a dependency of both routes)."""
    return AttemptFilter(
        since=parse_time("since", since),
        until=parse_time("until", until),
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
    dependencies = {
        "service": Provide(bearer_service, sync_to_thread=False),
        "filters": Provide(attempt_filter, sync_to_thread=False),
    }

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
        filters: NamedDependency[AttemptFilter],
        cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> AttemptListOut:
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
        filters: NamedDependency[AttemptFilter],
        group_by: Annotated[GroupBy | None, QueryParameter()] = None,
    ) -> SummaryOut:
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
