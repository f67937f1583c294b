"""Twilio's Verification Attempts API (README "Attempts and conversion"): `GET /v2/Attempts`,
`GET /v2/Attempts/{Sid}` and `GET /v2/Attempts/Summary` in Twilio's shapes, filter names
and paging (`meta`, `next_page_url`), so that `client.verify.v2.verification_attempts` and
`verification_attempts_summary` of Twilio's SDKs work unchanged. Shapes from Twilio's
published description (twilio-oai, spec/json/twilio_verify_v2.json:
`verify.v2.verification_attempt`, `verify.v2.verification_attempts_summary`).

The credentials name one service (api/twilio/routes.py `account_service`): its attempts
are listed; a `VerifyServiceSid` of another service matches nothing. Attempt SIDs are our
attempt ids with `VL` for `att_` (the same 32 hex digits)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import msgspec
from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import PathParameter, QueryParameter

from verify_service.api.native.attempts import parse_time
from verify_service.api.twilio.errors import EXCEPTION_HANDLERS, invalid_parameter, not_found
from verify_service.api.twilio.routes import SECURITY_SCHEME, account_service
from verify_service.api.twilio.schemas import (
    TwilioErrorOut,
    twilio_date,
    verification_id,
    verification_sid,
)
from verify_service.config import ServiceSettings
from verify_service.domain.attempts import ID_PREFIX, Attempt, AttemptFilter, AttemptStatus
from verify_service.domain.errors import VerifyError
from verify_service.usecases.attempts import MAX_LIMIT, Attempts

DEFAULT_PAGE_SIZE = 50
SID_PREFIX = "VL"
# Twilio's message statuses for ours; a refused start never left: `canceled`.
_MESSAGE_STATUS: dict[AttemptStatus, str] = {
    "sent": "sent",
    "failed": "failed",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "refused": "canceled",
}


def attempt_sid(attempt_id: str) -> str:
    return SID_PREFIX + attempt_id.removeprefix(ID_PREFIX)


def _attempt_id(sid: str) -> str | None:
    if len(sid) != 34 or not sid.startswith(SID_PREFIX):
        return None
    return ID_PREFIX + sid[2:].lower()


class AttemptResource(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    service_sid: str
    verification_sid: str | None
    date_created: str
    date_updated: str
    conversion_status: Literal["converted", "unconverted"]
    channel: str
    price: dict[str, Any] | None
    channel_data: dict[str, Any]
    url: str


class AttemptsMeta(msgspec.Struct, kw_only=True):
    page: int
    page_size: int
    first_page_url: str
    previous_page_url: str | None
    url: str
    next_page_url: str | None
    key: str


class AttemptList(msgspec.Struct, kw_only=True):
    attempts: list[AttemptResource]
    meta: AttemptsMeta


class AttemptsSummaryResource(msgspec.Struct, kw_only=True):
    total_attempts: int
    total_converted: int
    total_unconverted: int
    conversion_rate_percentage: Annotated[
        str | None, msgspec.Meta(description="converted / total * 100; null without attempts.")
    ]
    url: str


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(TwilioErrorOut, description="Twilio error", generate_examples=False)
        for status in statuses
    }


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def attempt_resource(a: Attempt, service: ServiceSettings, base_url: str) -> AttemptResource:
    created = twilio_date(a.created_at) or ""
    # a delivery report updates the attempt: its time, and an undelivered one's error code
    updated = twilio_date(a.reported_at) if a.reported_at else None
    verification = verification_sid(a.verification_id) if a.verification_id else None
    channel_data: dict[str, Any] = {
        "verification_sid": verification,
        "to": a.to,
        "status": "confirmed" if a.converted else "unconfirmed",
        "message_status": _MESSAGE_STATUS[a.status],
        "error_code": a.reason if a.status == "undelivered" else None,
        "country": a.country,
        # not Twilio's: who carried it, how many SMS, why it failed or was refused
        "provider": a.provider,
        "segments": a.segments,
        "reason": a.reason,
    }
    sid = attempt_sid(a.id)
    return AttemptResource(
        sid=sid,
        account_sid=service.twilio_account_sid,
        service_sid=service.twilio_service_sid,
        verification_sid=verification,
        date_created=created,
        date_updated=updated or created,
        conversion_status="converted" if a.converted else "unconverted",
        channel=a.channel,
        price=None,
        channel_data=channel_data,
        url=f"{base_url}/v2/Attempts/{sid}",
    )


def _time(name: str, text: str | None) -> datetime | None:
    try:
        return parse_time(name, text)
    except VerifyError:
        raise invalid_parameter(name) from None


def _conversion(status: str | None) -> bool | None:
    if status is None:
        return None
    if status.lower() not in ("converted", "unconverted"):
        raise invalid_parameter("Status")
    return status.lower() == "converted"


def _verification(sid: str | None) -> str | None:
    if sid is None:
        return None
    our_id = verification_id(sid)
    if our_id is None:
        raise invalid_parameter("VerificationSid")
    return our_id


def _page_url(request: Request[Any, Any, Any], page: int, page_size: int, token: str | None) -> str:
    """This list's URL at another page: the caller's filters kept, paging replaced."""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("Page", "PageSize", "PageToken")
    ]
    paging = [("PageSize", str(page_size)), ("Page", str(page))]
    if token is not None:
        paging.append(("PageToken", token))
    return f"{_base_url(request)}/v2/Attempts?{urlencode(kept + paging)}"


After = Annotated[
    str | None,
    QueryParameter(
        name="DateCreatedAfter",
        format=OpenAPIFormat.DATE_TIME,
        max_length=40,
        description="ISO 8601, inclusive.",
    ),
]
Before = Annotated[
    str | None,
    QueryParameter(
        name="DateCreatedBefore",
        format=OpenAPIFormat.DATE_TIME,
        max_length=40,
        description="ISO 8601.",
    ),
]
Country = Annotated[str | None, QueryParameter(name="Country", min_length=2, max_length=2)]
Channel = Annotated[str | None, QueryParameter(name="Channel", min_length=1, max_length=16)]
VerificationSidFilter = Annotated[str | None, QueryParameter(name="VerificationSid", max_length=64)]
PageSize = Annotated[
    int, QueryParameter(name="PageSize", ge=1, le=MAX_LIMIT, description="1-1000.")
]
ServiceSidFilter = Annotated[str | None, QueryParameter(name="VerifyServiceSid", max_length=64)]


@get(
    "/Attempts",
    summary="List verification attempts (Twilio Verify v2)",
    description="Newest first; numbers masked to the last 4 digits unless `ChannelData.To` "
    "names one. Paging by `meta.next_page_url`.",
    operation_id="twilioListAttempts",
    responses=_errors(400, 401, 503),
)
async def list_attempts(
    request: Request[Any, Any, Any],
    account: NamedDependency[ServiceSettings],
    attempts: NamedDependency[Attempts],
    date_created_after: After = None,
    date_created_before: Before = None,
    to: Annotated[str | None, QueryParameter(name="ChannelData.To", max_length=32)] = None,
    country: Country = None,
    channel: Channel = None,
    verify_service_sid: ServiceSidFilter = None,
    verification: VerificationSidFilter = None,
    status: Annotated[str | None, QueryParameter(name="Status", max_length=16)] = None,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page: Annotated[int, QueryParameter(name="Page", ge=0)] = 0,
    page_token: Annotated[str | None, QueryParameter(name="PageToken", max_length=64)] = None,
) -> AttemptList:
    filters = AttemptFilter(
        since=_time("DateCreatedAfter", date_created_after),
        until=_time("DateCreatedBefore", date_created_before),
        to=to,
        country=country.upper() if country else None,
        channel=channel.lower() if channel else None,
        verification_id=_verification(verification),
        converted=_conversion(status),
    )
    base_url = _base_url(request)
    if verify_service_sid is not None and verify_service_sid != account.twilio_service_sid:
        attempts.check_filter(filters)
        shown: list[Attempt] = []
        next_token = None
    else:
        found = await attempts.list(account, filters, cursor=page_token, limit=page_size)
        shown, next_token = found.attempts, found.next_cursor
    return AttemptList(
        attempts=[attempt_resource(a, account, base_url) for a in shown],
        meta=AttemptsMeta(
            page=page,
            page_size=page_size,
            first_page_url=_page_url(request, 0, page_size, None),
            previous_page_url=None,  # cursor paging goes forward only
            url=_page_url(request, page, page_size, page_token),
            next_page_url=(
                _page_url(request, page + 1, page_size, next_token) if next_token else None
            ),
            key="attempts",
        ),
    )


@get(
    "/Attempts/Summary",
    summary="Attempts, conversions and conversion rate (Twilio Verify v2)",
    operation_id="twilioAttemptsSummary",
    responses=_errors(400, 401, 503),
)
async def attempts_summary(
    request: Request[Any, Any, Any],
    account: NamedDependency[ServiceSettings],
    attempts: NamedDependency[Attempts],
    verify_service_sid: ServiceSidFilter = None,
    date_created_after: After = None,
    date_created_before: Before = None,
    country: Country = None,
    channel: Channel = None,
    destination_prefix: Annotated[
        str | None,
        QueryParameter(name="DestinationPrefix", pattern=r"^\+[0-9]{1,15}$", description="+57305"),
    ] = None,
) -> AttemptsSummaryResource:
    filters = AttemptFilter(
        since=_time("DateCreatedAfter", date_created_after),
        until=_time("DateCreatedBefore", date_created_before),
        country=country.upper() if country else None,
        channel=channel.lower() if channel else None,
        prefix=destination_prefix,
    )
    total = converted = 0
    if verify_service_sid is None or verify_service_sid == account.twilio_service_sid:
        summary = await attempts.summary(account, filters)
        total, converted = summary.total.total, summary.total.converted
    else:
        attempts.check_filter(filters)
    rate = None
    if total:
        rate = f"{converted / total * 100:.9f}".rstrip("0").rstrip(".")
    return AttemptsSummaryResource(
        total_attempts=total,
        total_converted=converted,
        total_unconverted=total - converted,
        conversion_rate_percentage=rate,
        url=f"{_base_url(request)}/v2/Attempts/Summary",
    )


@get(
    "/Attempts/{sid:str}",
    summary="Fetch a verification attempt (Twilio Verify v2)",
    operation_id="twilioFetchAttempt",
    responses=_errors(401, 404, 503),
)
async def fetch_attempt(
    request: Request[Any, Any, Any],
    sid: Annotated[str, PathParameter(description="Verification Attempt SID (VL…)")],
    account: NamedDependency[ServiceSettings],
    attempts: NamedDependency[Attempts],
) -> AttemptResource:
    our_id = _attempt_id(sid)
    if our_id is None:
        raise not_found(request)
    # an unknown id is `not_found`, which the Twilio handlers answer as 20404
    found = await attempts.get(account, our_id)
    return attempt_resource(found, account, _base_url(request))


twilio_attempts_router = Router(
    path="/v2",
    route_handlers=[list_attempts, attempts_summary, fetch_attempt],
    tags=["twilio-verify"],
    security=[{SECURITY_SCHEME: []}],
    dependencies={"account": Provide(account_service, sync_to_thread=False)},
    exception_handlers=EXCEPTION_HANDLERS,
)
