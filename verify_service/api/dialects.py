"""Which API dialect owns a path, and the app-level answer to the errors that the router
raises before any route is reached (unknown path 404, wrong method 405).

Each dialect answers in its own error shape on every path under its prefix, known or not:
Twilio's `{code, message, more_info, status}` under `/v2`, Swisscom's
`{status, code, message, detail}` under `/messaging`, problem+json everywhere else. The
pages for people answer with pages: the API reference under `/docs` (api/ops/docs.py) and
the console under its path. Errors raised once a route is found go to that route's own
(router-scoped) handlers instead."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Response
from litestar.exceptions import HTTPException

from verify_service.api.allow import router_allow
from verify_service.api.console.render import page
from verify_service.api.native.problems import EXCEPTION_HANDLERS as NATIVE
from verify_service.api.ops import docs
from verify_service.api.swisscom.errors import EXCEPTION_HANDLERS as SWISSCOM
from verify_service.api.twilio.errors import EXCEPTION_HANDLERS as TWILIO

Dialect = Literal["twilio", "swisscom", "docs", "native"]

TWILIO_PREFIX = "/v2"
SWISSCOM_PREFIX = "/messaging"
DOCS_PREFIX = docs.DOCS_PATH


def _under(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def dialect_of(path: str) -> Dialect:
    """`/v2`, `/v2/…` -> twilio; `/messaging`, `/messaging/…` -> swisscom; `/docs/…` ->
    docs; else native."""
    if _under(TWILIO_PREFIX, path):
        return "twilio"
    if _under(SWISSCOM_PREFIX, path):
        return "swisscom"
    if _under(DOCS_PREFIX, path):
        return "docs"
    return "native"


_HANDLERS: dict[Dialect, Any] = {
    "twilio": TWILIO[HTTPException],
    "swisscom": SWISSCOM[HTTPException],
    "docs": docs.on_docs_error,
    "native": NATIVE[HTTPException],
}

_CONSOLE_MESSAGES = {
    404: "There is no console page here.",
    405: "This console page does not answer that method.",
}


def _console_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any] | None:
    """The console's own error page for a path under the console's (configured) path."""
    parts = request.app.state.get("console")
    if parts is None or not _under(parts.path, request.url.path):
        return None
    status = exc.status_code
    message = _CONSOLE_MESSAGES.get(status, "The request could not be read.")
    response = page("error.html", status, message=message, path=parts.path)
    response.headers.update(dict(exc.headers or {}))
    return response


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The app-level HTTPException handler: the error shape of the dialect owning the path."""
    if exc.status_code == 405 and exc.headers:  # the router's Allow, in the one order we use
        exc.headers = {
            k: router_allow(request.app, request.url.path, v) if k.lower() == "allow" else v
            for k, v in exc.headers.items()
        }
    console = _console_page(request, exc)
    if console is not None:
        return console
    return _HANDLERS[dialect_of(request.url.path)](request, exc)  # type: ignore[no-any-return]
