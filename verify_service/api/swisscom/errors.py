"""Errors of the Swisscom-compatible API in Swisscom's own shape (seed 000):
`{"status":"400","code":"INVALID_REQUEST","message":…,"detail":…}` with `status` as a
string, and `SCS-Request-ID` echoed. Used as the exception handlers of that router only, so
that the native API keeps its problem+json."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from verify_service.domain.errors import VerifyError

log = logging.getLogger("verify_service.api")

REQUEST_ID = "SCS-Request-ID"

# Swisscom's codes and messages, word for word from its documentation.
ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "INVALID_REQUEST",
        "The request could not be understood due to malformed syntax. Correct the request "
        "syntax and try again.",
    ),
    401: (
        "INVALID_AUTHENTICATION_CREDENTIALS",
        "Authentication credentials missing or incorrect. Check that you are using the correct "
        "authentication method and that you have permission to the given resource and your app "
        "key is approved.",
    ),
    403: (
        "FORBIDDEN_RESOURCE",
        "The server understood the request, but is refusing to fulfill it. Check that you have "
        "permission to the given resource.",
    ),
    404: (
        "INVALID_REQUEST_RESOURCE",
        "The requested resource does not exist. Verify that the resource URI is correctly spelled.",
    ),
    405: (
        "INVALID_REQUEST_METHOD",
        "The resource is not accessible via the given method. Check the documentation or the "
        "Allow header for allowed methods.",
    ),
    406: (
        "INVALID_HEADER_ACCEPT",
        "The requested resource is only capable of generating content not acceptable according "
        "to the Accept headers sent in the request. Make sure the request has an Accept header "
        "with a media type supported by the API. Check the developer portal for supported media "
        "types.",
    ),
    429: (
        "EXPIRED_QUOTA",
        "Your quota for this service has been exhausted. Try again later or contact support at "
        "developer-support@swisscom.com.",
    ),
    500: (
        "INTERNAL_SERVER_ERROR",
        "The server encountered an unexpected condition which prevented it from fulfilling the "
        "request. Try again later or contact support at developer-support@swisscom.com.",
    ),
    503: (
        "UNAVAILABLE_SERVICE",
        "The server is currently unable to handle the request due to temporary overloading or "
        "maintenance. Try again later or contact support at developer-support@swisscom.com.",
    ),
}

# Our error codes in Swisscom's statuses. Our limits (rate, cooldown, sends) are its quota.
_STATUS_OF: dict[str, int] = {
    "unauthorized": 401,
    "country_not_allowed": 403,
    "fraud_suspected": 403,
    "rate_limited": 429,
    "max_send_attempts": 429,
    "resend_too_soon": 429,
    "verification_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "provider_unavailable": 503,
    "store_unavailable": 503,
    "internal_error": 500,
}


class SwisscomErrorBody(msgspec.Struct, kw_only=True):
    status: str
    code: str
    message: str
    detail: str


class SwisscomApiError(Exception):
    """Raised by the Swisscom routes for errors that have no VerifyError (headers)."""

    def __init__(self, status: int, detail: str = "", headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def echo_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    request_id = request.headers.get(REQUEST_ID, "")[:128]
    return {REQUEST_ID: request_id} if request_id else {}


def swisscom_error(
    request: Request[Any, Any, Any],
    status: int,
    detail: str = "",
    headers: dict[str, str] | None = None,
) -> Response[SwisscomErrorBody]:
    code, message = ERRORS[status]
    body = SwisscomErrorBody(status=str(status), code=code, message=message, detail=detail)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={**echo_headers(request), **(headers or {})},
    )


def _own(request: Request[Any, Any, Any], exc: SwisscomApiError) -> Response[SwisscomErrorBody]:
    return swisscom_error(request, exc.status, exc.detail, exc.headers)


def _verify(request: Request[Any, Any, Any], exc: VerifyError) -> Response[SwisscomErrorBody]:
    status = _STATUS_OF.get(exc.code, 400 if exc.status < 500 else 500)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return swisscom_error(request, status, exc.detail, headers)


def _validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[SwisscomErrorBody]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    # Where and why only: never echo submitted values (a token could be among them).
    parts = [
        f"{e.get('key')}: {e.get('message')}" if e.get("key") else str(e.get("message"))
        for e in errors
        if isinstance(e, dict)
    ]
    # Not exc.detail: it quotes the request path, which holds the token on a check.
    return swisscom_error(request, 400, "; ".join(parts) or "invalid request")


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[SwisscomErrorBody]:
    status = (
        exc.status_code if exc.status_code in ERRORS else (400 if exc.status_code < 500 else 500)
    )
    detail = str(exc.detail) if status < 500 else ""
    return swisscom_error(request, status, detail, exc.headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[SwisscomErrorBody]:
    # Not the path: on a check it holds the number and the token.
    log.error("unhandled error in the Swisscom API (%s)", request.method, exc_info=exc)
    return swisscom_error(request, 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    SwisscomApiError: _own,
    VerifyError: _verify,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}
