"""Which API dialect owns a path, and the app-level answer to the errors that the router
raises before any route is reached (unknown path 404, wrong method 405).

Each dialect answers in its own error shape on every path under its prefix, known or not:
Twilio's `{code, message, more_info, status}` under `/v2`, Swisscom's
`{status, code, message, detail}` under `/messaging`, problem+json everywhere else. Errors
raised once a route is found go to that route's own (router-scoped) handlers instead."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Response
from litestar.exceptions import HTTPException

from verify_service.api.allow import router_allow
from verify_service.api.native.problems import EXCEPTION_HANDLERS as NATIVE
from verify_service.api.swisscom.errors import EXCEPTION_HANDLERS as SWISSCOM
from verify_service.api.twilio.errors import EXCEPTION_HANDLERS as TWILIO

Dialect = Literal["twilio", "swisscom", "native"]

TWILIO_PREFIX = "/v2"
SWISSCOM_PREFIX = "/messaging"


def _under(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def dialect_of(path: str) -> Dialect:
    """`/v2`, `/v2/…` -> twilio; `/messaging`, `/messaging/…` -> swisscom; else native."""
    if _under(TWILIO_PREFIX, path):
        return "twilio"
    if _under(SWISSCOM_PREFIX, path):
        return "swisscom"
    return "native"


_HANDLERS: dict[Dialect, Any] = {
    "twilio": TWILIO[HTTPException],
    "swisscom": SWISSCOM[HTTPException],
    "native": NATIVE[HTTPException],
}


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The app-level HTTPException handler: the error shape of the dialect owning the path."""
    if exc.status_code == 405 and exc.headers:  # the router's Allow, in the one order we use
        exc.headers = {
            k: router_allow(request.app, request.url.path, v) if k.lower() == "allow" else v
            for k, v in exc.headers.items()
        }
    return _HANDLERS[dialect_of(request.url.path)](request, exc)  # type: ignore[no-any-return]
