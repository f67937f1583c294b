"""Twilio's error body for the Twilio-compatible routes: `{code, message, more_info, status}`
with Twilio's numeric codes, so that Twilio's SDKs raise `TwilioRestException` with the
`code` their callers already test. Scoped to those routes: the rest of the API keeps
problem+json.

The body must not carry problem+json's `type`/`title` pair: the SDKs read a body with
`type`, `title`, `status` and `code` as an RFC 9457 error and raise another exception."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from verify_service.domain.channels import twilio_channel
from verify_service.domain.errors import VerifyError

log = logging.getLogger("verify_service.api.twilio.routes")

MORE_INFO = "https://www.twilio.com/docs/errors/"

NOT_FOUND = 20404
AUTHENTICATE = 20003
INVALID_PARAMETER = 60200
MAX_CHECK_ATTEMPTS = 60202
MAX_SEND_ATTEMPTS = 60203
NOT_SUPPORTED = 60204
CHANNEL_DISABLED = 60223
FRAUD_BLOCKED = 60410
GEO_BLOCKED = 60605
TOO_MANY_REQUESTS = 20429
INTERNAL = 20500
UNAVAILABLE = 20503
METHOD_NOT_ALLOWED = 20004
# "Request Entity Too Large: request entity is larger than limits defined by the server".
# Twilio has no code of its own for oversized headers: this, its nearest, goes with HTTP 431.
REQUEST_TOO_LARGE = 20413

# Our error code -> (HTTP status, Twilio code). Statuses follow Twilio where it has one.
_FROM_NATIVE: dict[str, tuple[int, int]] = {
    "unauthorized": (401, AUTHENTICATE),
    "invalid_request": (400, INVALID_PARAMETER),
    "invalid_phone_number": (400, INVALID_PARAMETER),
    "invalid_template": (400, INVALID_PARAMETER),
    "invalid_email_address": (400, INVALID_PARAMETER),
    "channel_not_allowed": (400, CHANNEL_DISABLED),
    "country_not_allowed": (403, GEO_BLOCKED),
    "fraud_suspected": (403, FRAUD_BLOCKED),
    "rate_limited": (429, TOO_MANY_REQUESTS),
    "resend_too_soon": (429, TOO_MANY_REQUESTS),
    "max_send_attempts": (429, MAX_SEND_ATTEMPTS),
    "verification_not_found": (404, NOT_FOUND),
    # Twilio deletes a verification once it ends, so its clients know an ended one as 20404.
    "verification_not_pending": (404, NOT_FOUND),
    "not_found": (404, NOT_FOUND),
    "method_not_allowed": (405, METHOD_NOT_ALLOWED),
    "provider_unavailable": (503, UNAVAILABLE),
    "store_unavailable": (503, UNAVAILABLE),
    "internal_error": (500, INTERNAL),
}

_PARAMETER_OF = {"invalid_phone_number": "To", "invalid_email_address": "To"}
# `/v2/Services` and `/v2/Services/{Sid}`: Twilio's provisioning resources.
_SERVICES = re.compile(r"^/v2/Services(/[^/]+)?/?$")
PROVISIONING = (
    "Method not allowed: services are not created, updated or deleted through this API; "
    "they are defined in verify-service's configuration file"
)
_FIELD_IN_MESSAGE = re.compile(r"field `([A-Za-z]+)`")


def _twilio_name(key: str) -> str:
    """A query or path parameter's Python name in Twilio's spelling (`page_size` ->
    `PageSize`): the message must name what the caller sent. Form fields come spelled so."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


class TwilioError(Exception):
    """An error in Twilio's vocabulary, raised by the Twilio routes themselves."""

    def __init__(
        self, status: int, code: int, message: str, *, retry_after: int | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{code}: {message}")


def not_found(request: Request[Any, Any, Any]) -> TwilioError:
    resource = request.url.path.removeprefix("/v2") or "/"
    return TwilioError(404, NOT_FOUND, f"The requested resource {resource} was not found")


def invalid_parameter(name: str) -> TwilioError:
    return TwilioError(400, INVALID_PARAMETER, f"Invalid parameter: {name}")


def authenticate() -> TwilioError:
    return TwilioError(401, AUTHENTICATE, "Authenticate")


def twilio_response(
    status: int, code: int, message: str, retry_after: int | None = None
) -> Response[dict[str, Any]]:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    body = {"code": code, "message": message, "more_info": f"{MORE_INFO}{code}", "status": status}
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _twilio_error(_: Request[Any, Any, Any], exc: TwilioError) -> Response[dict[str, Any]]:
    return twilio_response(exc.status, exc.code, exc.message, exc.retry_after)


def _verify_error(request: Request[Any, Any, Any], exc: VerifyError) -> Response[dict[str, Any]]:
    if exc.code in ("verification_not_found", "verification_not_pending", "not_found"):
        error = not_found(request)
        if exc.code == "verification_not_pending":
            # Ours stay readable after they end: say why instead of pretending it is gone.
            error.message += f" (it is {exc.extra.get('verification_status', 'not pending')})"
        return _twilio_error(request, error)
    status, code = _FROM_NATIVE.get(exc.code, (exc.status, INTERNAL))
    if code == CHANNEL_DISABLED:
        channel = twilio_channel(str(exc.extra.get("channel", "")))
        message = f"Delivery channel disabled: {channel.upper()}"
    elif code == INVALID_PARAMETER:
        message = f"Invalid parameter: {_PARAMETER_OF.get(exc.code, exc.detail)}"
    else:
        message = exc.detail
    return twilio_response(status, code, message, exc.retry_after)


def _validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    name = "request"
    for error in errors:
        if not isinstance(error, dict):
            continue
        key, message = str(error.get("key") or ""), str(error.get("message") or "")
        # A missing required form field is reported on the body as a whole ("data").
        match = _FIELD_IN_MESSAGE.search(message)
        name = match.group(1) if match else _twilio_name(key) or name
        break
    return _twilio_error(_, invalid_parameter(name))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status == 404:
        return _twilio_error(request, not_found(request))
    if status == 405:
        provisioning = _SERVICES.match(request.url.path) and request.method != "GET"
        message = PROVISIONING if provisioning else "Method not allowed"
        response = twilio_response(405, METHOD_NOT_ALLOWED, message)
        # RFC 9110 §15.5.6: a 405 names the methods that are allowed.
        response.headers.update(
            {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
        )
        return response
    if status == 401:
        return _twilio_error(request, authenticate())
    if status in (413, 431):
        return twilio_response(status, REQUEST_TOO_LARGE, str(exc.detail))
    if status < 500:
        return twilio_response(status, INVALID_PARAMETER, str(exc.detail))
    return twilio_response(status, INTERNAL, "Internal server error")


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return twilio_response(500, INTERNAL, "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    TwilioError: _twilio_error,
    VerifyError: _verify_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _internal_error,
}
