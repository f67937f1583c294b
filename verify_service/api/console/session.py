"""The console's session cookie, CSRF checks and error pages.

The cookie holds only a random session id: HttpOnly (no script reads it), SameSite=Strict
(no other site's page sends it), Secure unless `[console] secure_cookie = false` (dev
mode). Every POST carries the session's CSRF token in a form field (`csrf`), compared in
constant time; the sign-in form, which has no session yet, carries a token that must equal
a short-lived cookie of its own (double submit).

Cookie tossing: a page on a sibling subdomain (or anyone on a plain-HTTP path to the
host) can set cookies for the console's host (`Domain=<parent>`), and SameSite does not
stop it (same site): it could plant the double-submit cookie with a value it knows (login
CSRF) or its own session's id (session fixation). So over HTTPS both cookies carry the
`__Host-` prefix, which browsers accept only with Secure, Path=/ and no Domain, from the
host itself (RFC 6265bis, section 4.1.3.2): no sibling can set or overwrite one, and a
planted cookie of the unprefixed name is never read. The price is Path=/ instead of the
console's path (the API's routes receive the cookie and ignore it). Plain-HTTP
development keeps the unprefixed names (browsers refuse `__Host-` without Secure), and
every state-changing request, there too, is refused when the browser says it comes from
another origin (`Sec-Fetch-Site: same-site` or `cross-site`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from verify_service.api.allow import safe_get
from verify_service.api.console.render import page
from verify_service.api.deps import client_ip
from verify_service.domain.errors import VerifyError
from verify_service.usecases.console_auth import Session, csrf_ok

if TYPE_CHECKING:
    from verify_service.api.console import ConsoleParts

COOKIE = "vs_console"
LOGIN_COOKIE = "vs_console_login"
LOGIN_COOKIE_TTL = 900
HOST_ONLY = "__Host-"  # the cookie prefix no other host can set (module docstring)
_FOREIGN = frozenset({"same-site", "cross-site"})  # Sec-Fetch-Site of another origin


class Refused(Exception):
    """A console request refused with an HTML page (`status`, `message`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parts_of(request: Request[Any, Any, Any]) -> ConsoleParts:
    parts: ConsoleParts = request.app.state["console"]
    return parts


def cookie_name(parts: ConsoleParts, name: str) -> str:
    """`name` as the console sets and reads it: `__Host-` prefixed over HTTPS."""
    return HOST_ONLY + name if parts.secure_cookie else name


def cookie(parts: ConsoleParts, name: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=cookie_name(parts, name),
        value=value,
        path="/" if parts.secure_cookie else parts.path,  # `__Host-` needs Path=/
        max_age=max_age,
        httponly=True,
        secure=parts.secure_cookie,
        samesite="strict",
    )


def expired_cookie(parts: ConsoleParts, name: str) -> Cookie:
    return cookie(parts, name, "", 0)


def cookie_of(request: Request[Any, Any, Any], name: str) -> str | None:
    """The value of the console's cookie `name`; one of another spelling is not it."""
    return request.cookies.get(cookie_name(parts_of(request), name))


def same_origin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a request that changes state (POST, or a GET marked NOT_SAFE) is refused
    when the browser says another origin's page sent it, the same site's included."""
    if not isinstance(connection, Request):  # the console has no websockets
        return
    handler = connection.scope.get("route_handler")
    changes = connection.method not in ("GET", "HEAD") or not safe_get(handler)
    if changes and connection.headers.get("sec-fetch-site", "").lower() in _FOREIGN:
        raise Refused(403, "This form was not sent from the console's own pages.")


async def current_session(request: Request[Any, Any, Any]) -> Session:
    """The signed-in operator's session. Raises VerifyError(unauthorized) (answered with a
    redirect to the sign-in page) for none or an expired one."""
    return await parts_of(request).auth.session(cookie_of(request, COOKIE))


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
