"""The console's pages: Overview, Attempts, Providers, Fraud, Test outbox, and signing in
and out. Every page needs a session; every POST its CSRF token. An operator sees only the
services its `services` list names; numbers are masked except the one searched for."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from verify_service.api.allow import NOT_SAFE
from verify_service.api.console import charts
from verify_service.api.console.render import page
from verify_service.api.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_COOKIE_TTL,
    Refused,
    check_csrf,
    client_of,
    cookie,
    cookie_of,
    current_session,
    expired_cookie,
    form_of,
    parts_of,
)
from verify_service.api.deps import components_of
from verify_service.config import ServiceSettings
from verify_service.domain.attempts import (
    ATTEMPT_STATUSES,
    Attempt,
    AttemptFilter,
    AttemptStatus,
    mask,
    ms_of,
)
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import Verification
from verify_service.usecases.console_auth import Session, csrf_ok
from verify_service.usecases.insights import ProviderRow

log = logging.getLogger("verify_service.console")
Req = Request[Any, Any, Any]


def _context(
    request: Req, session: Session, service: ServiceSettings, active: str
) -> dict[str, Any]:
    components = components_of(request.app.state)
    return {
        "path": parts_of(request).path,
        "operator": session.operator.name,
        "csrf": session.csrf,
        "service": service.name,
        "services": [s.name for s in _visible(request, session)],
        "active": active,
        "test_mode": components.outbox is not None and _sees_all(request, session),
    }


def _sees_all(request: Req, session: Session) -> bool:
    """Whether the operator sees every service: the test outbox is kept per number, not
    per service, so only such an operator may read it."""
    settings = components_of(request.app.state).settings
    return all(session.operator.sees(s.name) for s in settings.services)


def _visible(request: Req, session: Session) -> list[ServiceSettings]:
    settings = components_of(request.app.state).settings
    return [s for s in settings.services if session.operator.sees(s.name)]


def _service(request: Req, session: Session, name: str | None) -> ServiceSettings:
    visible = _visible(request, session)
    if not visible:
        raise Refused(403, "Your operator account is not given any service.")
    if name is None:
        return visible[0]
    for service in visible:
        if service.name == name:
            return service
    raise Refused(404, "No such service among yours.")


# --- signing in and out ------------------------------------------------------------------


def _login_page(request: Req, status: int = 200, message: str | None = None) -> Response[str]:
    parts = parts_of(request)
    token = secrets.token_urlsafe(32)
    response = page("login.html", status, path=parts.path, login_csrf=token, message=message)
    response.set_cookie(cookie(parts, LOGIN_COOKIE, token, LOGIN_COOKIE_TTL))
    return response


@get("/login", sync_to_thread=False)
def login_form(request: Req, expired: FromQuery[str | None] = None) -> Response[str]:
    # any value: a hand-edited URL gets the form, not a validation error
    return _login_page(request, message="Please sign in again." if expired else None)


@post("/login", status_code=303)
async def login(request: Req) -> Response[Any]:
    parts = parts_of(request)
    form = await form_of(request)
    if not csrf_ok(cookie_of(request, LOGIN_COOKIE) or "", form.get("csrf")):
        raise Refused(403, "The sign-in form is stale or was not sent by the console (CSRF check).")
    try:
        session = await parts.auth.sign_in(
            form.get("name", ""), form.get("password", ""), client_of(request)
        )
    except VerifyError as exc:
        if exc.code != "unauthorized":
            raise
        return _login_page(request, 401, "Wrong name or password.")
    return _signed_in(request, session)


def _signed_in(request: Req, session: Session) -> Response[Any]:
    parts = parts_of(request)
    response = Redirect(f"{parts.path}/", status_code=303)
    response.set_cookie(cookie(parts, COOKIE, session.id, parts.auth.settings.session_ttl))
    response.set_cookie(expired_cookie(parts, LOGIN_COOKIE))
    return response


@get("/login/once", opt=NOT_SAFE)  # uses the link up: no HEAD (api/head.py)
async def login_once(request: Req, token: FromQuery[str] = "") -> Response[Any]:
    """Dev mode's printed link: signs in once; used, unknown or a day old, the sign-in
    form says so (401)."""
    try:
        session = await parts_of(request).auth.redeem(token, client_of(request))
    except VerifyError as exc:
        if exc.code != "unauthorized":
            raise
        return _login_page(request, 401, "This sign-in link is unknown or was used already.")
    return _signed_in(request, session)


@post("/logout", status_code=303)
async def logout(request: Req) -> Response[Any]:
    session = await current_session(request)
    check_csrf(session, await form_of(request))
    parts = parts_of(request)
    await parts.auth.sign_out(session)
    response = Redirect(f"{parts.path}/login", status_code=303)
    response.set_cookie(expired_cookie(parts, COOKIE))
    return response


# --- Overview ------------------------------------------------------------------------------


def _hour_label(now: datetime, index: int, count: int) -> str:
    return (now - timedelta(hours=count - 1 - index)).strftime("%H:00")


def _day_label(now: datetime, index: int, count: int) -> str:
    return (now - timedelta(days=count - 1 - index)).strftime("%a %d")


@get("/")
async def overview(request: Req, service: FromQuery[str | None] = None) -> Response[str]:
    session = await current_session(request)
    chosen = _service(request, session, service)
    now = datetime.now(UTC)
    data = await parts_of(request).insights.overview(chosen.name, now)
    hourly = charts.bars(
        "Last 24 hours (UTC): starts and approvals per hour",
        [_hour_label(now, i, 24) for i in range(24)],
        {
            "starts": [f.start_count for f in data.hourly],
            "approvals": [f.approval_count for f in data.hourly],
        },
    )
    daily = charts.bars(
        "Last 7 days: starts and approvals per day",
        [_day_label(now, i, 7) for i in range(7)],
        {
            "starts": [f.start_count for f in data.daily],
            "approvals": [f.approval_count for f in data.daily],
        },
    )
    countries = [
        {
            "country": row.country,
            "starts": row.week.start_count,
            "approvals": row.week.approval_count,
            "refused": row.week.refused,
            "conversion": row.week.conversion,
            "spark": charts.sparkline([f.conversion for f in row.daily]),
        }
        for row in data.countries[:50]
    ]
    return page(
        "overview.html",
        **_context(request, session, chosen, "overview"),
        windows=data.windows,
        window_since=data.window_since,
        counting_since=data.counting_since,
        deliveries=data.deliveries,
        hourly=hourly,
        daily=daily,
        countries=countries,
        more_countries=max(0, len(data.countries) - 50),
    )


# --- Attempts ------------------------------------------------------------------------------


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{name} is not a date and time (2024-05-01T10:00)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _status(value: str | None) -> AttemptStatus | None:
    if not value:
        return None
    for status in ATTEMPT_STATUSES:
        if status == value:
            return status
    raise Refused(400, f"unknown status {value!r}")


def _event(at: datetime, what: str, detail: str = "") -> dict[str, Any]:
    return {"at": at, "what": what, "detail": detail}


def _timeline(
    verification: Verification | None, rows: Sequence[Attempt], show_number: bool
) -> dict[str, Any] | None:
    """What happened to a verification, oldest first: its start, each send attempt, the
    delivery reports (their time and error code from the attempt log), its checks and its
    outcome; never a code (neither record holds one to show). Once the verification's
    own record is gone (`retention`), what the attempt log (`rows`) still says."""
    own = [row for row in rows if row.status != "refused"]
    if verification is None and not own:
        return None
    reported = {(row.provider, ms_of(row.created_at)): row for row in own}
    events = []
    sends: list[tuple[datetime, str, str, str | None]]
    if verification is not None:
        events.append(_event(verification.created_at, "started", verification.channel))
        sends = [
            (send.at, send.provider, send.status, send.error) for send in verification.send_attempts
        ]
    else:
        sends = [(row.created_at, row.provider or "", row.status, row.reason) for row in own]
    for at, provider, status, error in sends:
        failed = status == "failed"
        detail = provider + (f" ({error})" if failed and error else "")
        events.append(_event(at, "send failed" if failed else "send sent", detail))
        if status not in ("delivered", "undelivered"):
            continue
        row = reported.get((provider, ms_of(at)))
        code = row.reason if row is not None else error
        detail = provider + (f" ({code})" if status == "undelivered" and code else "")
        if row is not None and row.reported_at is not None:
            events.append(_event(row.reported_at, f"delivery report: {status}", detail))
        else:  # reported before the attempt log kept report times
            events.append(_event(at, f"delivery report: {status}", detail + ", time unknown"))
    if verification is None:
        first = own[-1]
        converted = any(row.converted for row in own)
        outcome = "approved (converted)" if converted else "not converted"
        events.append(_event(own[0].created_at, "outcome", outcome))
        events.sort(key=lambda e: e["at"])
        return {
            "id": first.verification_id,
            "to": first.to if show_number else mask(first.to),
            "status": outcome,
            "expires_at": None,
            "events": events,
            "gone": True,
        }
    end = verification.updated_at or verification.created_at
    if verification.check_attempts:
        left = f"{verification.attempts_remaining} left"
        events.append(_event(end, f"{verification.check_attempts} check(s)", left))
    events.append(_event(end, "status", verification.status))
    events.sort(key=lambda e: e["at"])
    return {
        "id": verification.id,
        "to": verification.to if show_number else mask(verification.to),
        "status": verification.status,
        "expires_at": verification.expires_at,
        "events": events,
        "gone": False,
    }


async def _timeline_of(
    request: Req,
    service: ServiceSettings,
    verification_id: str,
    rows: Sequence[Attempt],
    searched: set[str],
) -> dict[str, Any] | None:
    """The verification's timeline from its record and its attempts (`rows`, as listed:
    numbers masked unless searched for); from its attempts alone once its record is gone
    (it lives `retention`, its attempts longer); None when neither is left."""
    verifications = components_of(request.app.state).verifications
    try:
        verification: Verification | None = await verifications.fetch(service, verification_id)
    except VerifyError as exc:
        if exc.code != "verification_not_found":
            raise
        verification = None
    number = verification.to if verification is not None else (rows[0].to if rows else "")
    return _timeline(verification, rows, number in searched)


@get("/attempts")
async def attempts_page(
    request: Req,
    service: FromQuery[str | None] = None,
    to: FromQuery[str | None] = None,
    verification_id: FromQuery[str | None] = None,
    country: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Response[str]:
    session = await current_session(request)
    chosen = _service(request, session, service)
    components = components_of(request.app.state)
    query = {
        "to": (to or "").strip(),
        "verification_id": (verification_id or "").strip(),
        "country": (country or "").strip().upper(),
        "status": status or "",
        "since": since or "",
        "until": until or "",
    }
    filters = AttemptFilter(
        to=query["to"] or None,
        verification_id=query["verification_id"] or None,
        country=query["country"] or None,
        status=_status(status),
        since=_time(since, "since"),
        until=_time(until, "until"),
    )
    error = None
    rows: list[Any] = []
    next_cursor = None
    timeline = None
    try:
        result = await components.attempts.list(chosen, filters, cursor=cursor or None, limit=50)
        rows, next_cursor = result.attempts, result.next_cursor
        if filters.verification_id:
            # its number in full only where the search named that number
            searched = {row.to for row in rows} if filters.to else set()
            timeline = await _timeline_of(request, chosen, filters.verification_id, rows, searched)
    except VerifyError as exc:
        if exc.code not in ("invalid_request", "not_found"):
            raise
        error = exc.detail
    return page(
        "attempts.html",
        400 if error else 200,
        **_context(request, session, chosen, "attempts"),
        query=query,
        statuses=ATTEMPT_STATUSES,
        rows=rows,
        next_cursor=next_cursor,
        timeline=timeline,
        error=error,
    )


# --- Providers -----------------------------------------------------------------------------


@get("/providers")
async def providers_page(request: Req, service: FromQuery[str | None] = None) -> Response[str]:
    session = await current_session(request)
    chosen = _service(request, session, service)
    components = components_of(request.app.state)
    now = datetime.now(UTC)
    rows = {
        row.provider: row for row in await parts_of(request).insights.providers(chosen.name, now)
    }
    names = list(dict.fromkeys([*chosen.providers, *rows]))
    table = []
    for name in names:
        row = rows.get(name)
        provider = components.providers.get(name)
        breaker = components.router.breaker(provider).state if provider is not None else "-"
        row = row or ProviderRow(name)
        table.append(
            {
                "name": name,
                "attempts": row.attempts,
                "failed": row.failed,
                "success_rate": row.success_rate,
                "p50": row.p50,
                "p95": row.p95,
                "breaker": breaker,
                "accepted": row.reached,
                "delivered": row.delivered,
                "undelivered": row.undelivered,
                "unreported": row.unreported,
                "delivery_rate": row.delivery_rate,
                "report_p50": row.report_p50,
                "report_p95": row.report_p95,
                "approvals": row.approvals,
                "conversion": row.conversion,
            }
        )
    chart = charts.bars(
        "Send attempts per hour, last 24 hours (UTC)",
        [_hour_label(now, i, 24) for i in range(24)],
        {name: rows[name].hourly for name in names if name in rows},
    )
    return page(
        "providers.html", **_context(request, session, chosen, "providers"), rows=table, chart=chart
    )


# --- Fraud ---------------------------------------------------------------------------------


def _fraud(request: Req) -> Any:
    fraud = components_of(request.app.state).fraud
    if fraud is None:
        raise Refused(404, "The fraud guard is not part of this service.")
    return fraud


@get("/fraud")
async def fraud_page(
    request: Req, service: FromQuery[str | None] = None, done: FromQuery[str | None] = None
) -> Response[str]:
    session = await current_session(request)
    chosen = _service(request, session, service)
    state = await _fraud(request).list_blocks(chosen)
    return page(
        "fraud.html",
        **_context(request, session, chosen, "fraud"),
        blocks=state.blocks,
        allowed=state.allowed,
        recent=state.recent,
        done=done,
        enabled=chosen.fraud_guard.enabled,
    )


async def _fraud_action(request: Req, action: str) -> Response[Any]:
    session = await current_session(request)
    form = await form_of(request)
    check_csrf(session, form)
    chosen = _service(request, session, form.get("service"))
    target = form.get("range", "").strip()
    fraud = _fraud(request)
    actor = f"console:{session.operator.name}"
    try:
        if action == "lift":
            await fraud.lift(chosen, target, actor)
        elif action == "allow":
            await fraud.allow(chosen, target, actor)
        else:
            await fraud.unallow(chosen, target, actor)
    except VerifyError as exc:
        if exc.code not in ("invalid_request", "not_found"):
            raise
        raise Refused(exc.status, exc.detail) from None
    path = parts_of(request).path
    return Redirect(f"{path}/fraud?service={chosen.name}&done={action}", status_code=303)


@post("/fraud/lift", status_code=303)
async def fraud_lift(request: Req) -> Response[Any]:
    return await _fraud_action(request, "lift")


@post("/fraud/allow", status_code=303)
async def fraud_allow(request: Req) -> Response[Any]:
    return await _fraud_action(request, "allow")


@post("/fraud/unallow", status_code=303)
async def fraud_unallow(request: Req) -> Response[Any]:
    return await _fraud_action(request, "unallow")


# --- Test outbox ---------------------------------------------------------------------------


@get("/outbox")
async def outbox_page(
    request: Req, service: FromQuery[str | None] = None, to: FromQuery[str | None] = None
) -> Response[str]:
    """test_mode only: the messages the capture provider kept for a number (test codes,
    which is what a person testing a sign-in flow by hand comes for). Only for operators
    of every service: the outbox does not say which service sent a message."""
    session = await current_session(request)
    chosen = _service(request, session, service)
    outbox = components_of(request.app.state).outbox
    if outbox is None:
        raise Refused(404, "The test outbox exists only with test_mode = true.")
    if not _sees_all(request, session):
        raise Refused(
            403,
            "The test outbox keeps every service's messages by number: only an operator "
            'of all services (services = ["*"]) reads it.',
        )
    messages = await outbox.messages(to.strip()) if to and to.strip() else []
    return page(
        "outbox.html",
        **_context(request, session, chosen, "outbox"),
        to=(to or "").strip(),
        messages=messages,
    )


HANDLERS = [
    login_form,
    login,
    login_once,
    logout,
    overview,
    attempts_page,
    providers_page,
    fraud_page,
    fraud_lift,
    fraud_allow,
    fraud_unallow,
    outbox_page,
]
