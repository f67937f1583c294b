"""The console's session cookie, CSRF checks and error pages.

The cookie holds only a random session id: HttpOnly (no script reads it), SameSite=Strict
(no other site's page sends it), Secure unless `[console] secure_cookie = false` (dev
mode), scoped to the console's path. Every POST carries the session's CSRF token in a
form field (`csrf`), compared in constant time; the sign-in form, which has no session
yet, carries a token that must equal a short-lived cookie of its own (double submit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

from verify_service.api.console.render import page
from verify_service.api.deps import client_ip
from verify_service.domain.errors import VerifyError
from verify_service.usecases.console_auth import Session, csrf_ok

if TYPE_CHECKING:
    from verify_service.api.console import ConsoleParts

COOKIE = "vs_console"
LOGIN_COOKIE = "vs_console_login"
LOGIN_COOKIE_TTL = 900


class Refused(Exception):
    """A console request refused with an HTML page (`status`, `message`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parts_of(request: Request[Any, Any, Any]) -> ConsoleParts:
    parts: ConsoleParts = request.app.state["console"]
    return parts


def cookie(parts: ConsoleParts, name: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path=parts.path,
        max_age=max_age,
        httponly=True,
        secure=parts.secure_cookie,
        samesite="strict",
    )


def expired_cookie(parts: ConsoleParts, name: str) -> Cookie:
    return cookie(parts, name, "", 0)


async def current_session(request: Request[Any, Any, Any]) -> Session:
    """The signed-in operator's session. Raises VerifyError(unauthorized) (answered with a
    redirect to the sign-in page) for none or an expired one."""
    return await parts_of(request).auth.session(request.cookies.get(COOKIE))


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str)}


def check_csrf(session: Session, form: dict[str, str]) -> None:
    if not csrf_ok(session.csrf, form.get("csrf")):
        raise Refused(403, "This form is stale or was not sent by the console (CSRF check).")


def client_of(request: Request[Any, Any, Any]) -> str | None:
    return client_ip(request)


def on_console_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Console errors as pages: no session -> the sign-in page; the rest with a message."""
    parts = parts_of(request)
    if isinstance(exc, VerifyError) and exc.code == "unauthorized":
        return Redirect(f"{parts.path}/login?expired=1", status_code=303)
    if isinstance(exc, Refused):
        return page("error.html", exc.status, message=exc.message, path=parts.path)
    assert isinstance(exc, VerifyError)
    response = page("error.html", exc.status, message=exc.detail, path=parts.path)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
