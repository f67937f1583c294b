"""HEAD on every GET route (RFC 9110 §9.3.2): the status and header fields GET would
answer, without content. Load balancers, uptime monitors and link checkers probe with
HEAD (`curl -I`, HAProxy `http-check send meth HEAD`); a 405 reads as "down" to them.

Litestar serves HEAD only where a handler declares it, so `head_as_get` (outside the
framework, where the method is still the client's) runs a HEAD request as GET and sends
its start message (status, Content-Type, Content-Length, every other header) with an empty
body. A GET that changes state is not safe to run for a HEAD, which is defined as safe
(§9.2.1): the Swisscom token check counts an attempt and approves, the console's one-time
sign-in link is used up. Such a handler says so with `opt=NOT_SAFE`; a HEAD there is 405
in the dialect's shape, and its `Allow` leaves HEAD out. Everywhere else `Allow` lists
HEAD with GET (api/allow.py)."""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.exceptions import MethodNotAllowedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from verify_service.api.allow import NOT_SAFE, allow_header, route_methods, safe_get

__all__ = ["NOT_SAFE", "head_as_get", "refuse_unsafe_head"]

HEAD_SCOPE_KEY = "verify_service.head"  # set on the scope of a HEAD run as GET
# ASGI extensions that would send a file past `send`'s body messages (the static routes).
_BODY_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")


def head_as_get(app: ASGIApp) -> ASGIApp:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await app(scope, receive, send)
            return
        # A copy: the server reads the method from its own scope to know that this answer
        # has no content (uvicorn checks Content-Length against it otherwise).
        extensions = {
            k: v for k, v in (scope.get("extensions") or {}).items() if k not in _BODY_EXTENSIONS
        }
        as_get: Any = {**scope, "method": "GET", "extensions": extensions, HEAD_SCOPE_KEY: True}
        ended = False

        async def headers_only(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.body":
                if not ended and not message.get("more_body", False):
                    ended = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        try:
            await app(as_get, receive, headers_only)
        finally:
            # What routing wrote, for the request log and the metrics that read it after.
            if "path_template" in as_get:
                scope["path_template"] = as_get["path_template"]

    return handle


def refuse_unsafe_head(app: ASGIApp) -> ASGIApp:
    """Route middleware: a HEAD (run as GET) on a NOT_SAFE handler is 405, handled by the
    route's own exception handlers (its dialect)."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get(HEAD_SCOPE_KEY) and not safe_get(scope.get("route_handler")):
            methods = route_methods(scope["litestar_app"], scope.get("path_template", ""))
            raise MethodNotAllowedException(headers={"Allow": allow_header(methods)})
        await app(scope, receive, send)

    return handle
