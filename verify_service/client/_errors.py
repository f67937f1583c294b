"""One exception class per problem `code` of the API, and the mapping of an answer to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "ERRORS",
    "ChannelNotAllowedError",
    "CountryNotAllowedError",
    "FraudSuspectedError",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "InternalError",
    "InvalidEmailAddressError",
    "InvalidPhoneNumberError",
    "InvalidRequestError",
    "InvalidTemplateError",
    "MaxSendAttemptsError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "RequestHeaderFieldsTooLargeError",
    "ResendTooSoonError",
    "StoreUnavailableError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "VerificationNotFoundError",
    "VerificationNotPendingError",
    "VerifyConnectionError",
    "VerifyServiceError",
    "error_from_response",
]


class VerifyServiceError(Exception):
    """A problem document from the service (or no answer at all: VerifyConnectionError)."""

    code: str = "unexpected_response"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code or self.code}: {detail}")
        if code is not None:
            self.code = code
        self.status = status
        self.detail = detail
        self.retry_after = retry_after  # seconds to wait, where the service says so
        self.body: dict[str, Any] = dict(body or {})


class VerifyConnectionError(VerifyServiceError):
    """The service did not answer (connection refused, timeout, broken response)."""

    code = "connection_error"


class UnauthorizedError(VerifyServiceError):
    code = "unauthorized"


class InvalidRequestError(VerifyServiceError):
    code = "invalid_request"


class InvalidPhoneNumberError(VerifyServiceError):
    code = "invalid_phone_number"


class InvalidEmailAddressError(VerifyServiceError):
    code = "invalid_email_address"


class ChannelNotAllowedError(VerifyServiceError):
    code = "channel_not_allowed"


class InvalidTemplateError(VerifyServiceError):
    code = "invalid_template"


class CountryNotAllowedError(VerifyServiceError):
    code = "country_not_allowed"


class FraudSuspectedError(VerifyServiceError):
    code = "fraud_suspected"


class RateLimitedError(VerifyServiceError):
    code = "rate_limited"


class MaxSendAttemptsError(VerifyServiceError):
    code = "max_send_attempts"


class ResendTooSoonError(VerifyServiceError):
    code = "resend_too_soon"


class VerificationNotFoundError(VerifyServiceError):
    code = "verification_not_found"


class VerificationNotPendingError(VerifyServiceError):
    code = "verification_not_pending"


class IdempotencyKeyReusedError(VerifyServiceError):
    code = "idempotency_key_reused"


class IdempotencyInProgressError(VerifyServiceError):
    code = "idempotency_in_progress"


class ProviderUnavailableError(VerifyServiceError):
    code = "provider_unavailable"


class StoreUnavailableError(VerifyServiceError):
    code = "store_unavailable"


class NotFoundError(VerifyServiceError):
    code = "not_found"


class MethodNotAllowedError(VerifyServiceError):
    code = "method_not_allowed"


class PayloadTooLargeError(VerifyServiceError):
    code = "payload_too_large"


class UnsupportedMediaTypeError(VerifyServiceError):
    code = "unsupported_media_type"


class RequestHeaderFieldsTooLargeError(VerifyServiceError):
    code = "request_header_fields_too_large"


class InternalError(VerifyServiceError):
    code = "internal_error"


ERRORS: dict[str, type[VerifyServiceError]] = {
    cls.code: cls
    for cls in (
        UnauthorizedError,
        InvalidRequestError,
        InvalidPhoneNumberError,
        InvalidTemplateError,
        InvalidEmailAddressError,
        ChannelNotAllowedError,
        CountryNotAllowedError,
        FraudSuspectedError,
        RateLimitedError,
        MaxSendAttemptsError,
        ResendTooSoonError,
        VerificationNotFoundError,
        VerificationNotPendingError,
        IdempotencyKeyReusedError,
        IdempotencyInProgressError,
        ProviderUnavailableError,
        StoreUnavailableError,
        NotFoundError,
        MethodNotAllowedError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        RequestHeaderFieldsTooLargeError,
        InternalError,
    )
}


def _retry_after(response: httpx.Response, body: Mapping[str, Any]) -> int | None:
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        return int(header)
    value = body.get("retry_after")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_from_response(response: httpx.Response) -> VerifyServiceError:
    """The exception for a non-2xx answer: by the problem's `code`, else the base class."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return VerifyServiceError(
            f"HTTP {response.status_code} without a problem document",
            status=response.status_code,
            retry_after=_retry_after(response, {}),
        )
    code: str = body["code"]
    cls = ERRORS.get(code, VerifyServiceError)
    return cls(
        str(body.get("detail") or body.get("title") or code),
        code=code,
        status=response.status_code,
        retry_after=_retry_after(response, body),
        body=body,
    )
