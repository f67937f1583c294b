"""Per-request observability as a plain ASGI middleware: the request id (taken from
`X-Request-ID` or `SCS-Request-ID`, generated when absent, returned in the response), one
JSON log line per request, and the HTTP metrics. A pure ASGI wrapper rather than a
framework hook so that it also sees requests that fail before routing (404, 405, 413)."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from verify_service.observability import logs
from verify_service.observability.metrics import Metrics

log = logging.getLogger("verify_service.http")

REQUEST_ID_HEADERS = (b"x-request-id", b"scs-request-id")
# Accept what proxies and clients commonly send (UUIDs, ULIDs, hex); anything else is
# replaced so that a header cannot inject text into our logs.
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
CLIENT_CLOSED = 499


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _incoming_id(scope: Scope) -> tuple[str, bytes | None]:
    """The caller's id and the header name it came in, or a fresh id."""
    for name, value in scope.get("headers", ()):
        lowered = name.lower()
        if lowered in REQUEST_ID_HEADERS and _VALID_ID.match(value):
            return value.decode("ascii"), lowered
    return new_request_id(), None


def request_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id, header = _incoming_id(scope)
        started = time.perf_counter()
        status = 500
        echo: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        if header == b"scs-request-id":  # the Swisscom dialect echoes its own header
            echo.append((b"scs-request-id", request_id.encode()))
        echoed = {name for name, _ in echo}

        disconnected = False

        async def receive_wrapper() -> ReceiveMessage:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message["type"] == "http.disconnect"
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in echoed]
                message["headers"] = [*kept, *echo]
            await send(message)

        with logs.request_context(request_id=request_id):
            try:
                await app(scope, receive_wrapper, send_wrapper)
            finally:
                # Gone before its request was read (the framework answers that with a 500
                # nobody receives): not a server error. 499 is nginx's "client closed request".
                _finished(scope, CLIENT_CLOSED if disconnected else status, started)

    return middleware


def _finished(scope: Scope, status: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    route = scope.get("path_template") or "(unmatched)"
    method = str(scope.get("method", ""))
    level = logging.ERROR if status >= 500 else logging.INFO
    if log.isEnabledFor(level):  # the line's fields are built only for a line written
        extra: dict[str, Any] = {
            "method": method,
            "path": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
        }
        log.log(level, "%s %s %d", method, route, status, extra=extra)
    metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
    if metrics is not None:
        metrics.request_observed(method, route, status, elapsed)
