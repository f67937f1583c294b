"""RFC 9457 problem documents for every error of the native API, including the ones the
framework raises itself (bad JSON, unknown route, body too large): never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from verify_service.domain.errors import ERRORS, VerifyError

log = logging.getLogger("verify_service.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://verify-service.dev/problems/"

_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
    429: "rate_limited",
    503: "store_unavailable",
}


def problem(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    retry_after: int | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    status = status or ERRORS[code][0]
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": ERRORS[code][1],
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    headers = dict(headers or {})
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def verify_error_handler(_: Request[Any, Any, Any], exc: VerifyError) -> Response[dict[str, Any]]:
    if exc.retry_after is not None:
        exc.extra.setdefault("retry_after", exc.retry_after)
    return problem(exc.code, exc.detail, retry_after=exc.retry_after, extra=exc.extra)


def _message(key: Any, message: Any) -> Any:
    # The framework reports an absent body as the bare name of the missing argument.
    if key == "data" and message == "'data'":
        return "the request body is empty: send a JSON object"
    return message


def validation_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    # Keep only where and why; never echo the submitted values (they could hold a code).
    cleaned = [
        {"key": e.get("key"), "message": _message(e.get("key"), e.get("message"))}
        for e in errors
        if isinstance(e, dict)
    ]
    detail = str(exc.detail)
    if cleaned and cleaned[0].get("message"):
        key, message = cleaned[0]["key"], cleaned[0]["message"]
        # Name the field in the sentence too: a log line or an alert shows only `detail`.
        detail = f"{key}: {message}" if key and key != "data" else f"{message}"
    return problem("invalid_request", detail, status=400, extra={"errors": cleaned})


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    code = _BY_STATUS.get(status, "invalid_request" if status < 500 else "internal_error")
    detail = str(exc.detail) if status < 500 else ERRORS["internal_error"][1]
    # The framework's own headers carry meaning (`Allow` on 405, RFC 9110 §15.5.6).
    return problem(code, detail, status=status, headers=dict(exc.headers or {}))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem("internal_error", "the server could not answer this request", status=500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VerifyError: verify_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "problem"]
