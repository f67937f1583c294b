"""The service's error vocabulary. Every failure a caller can see is a `VerifyError` with a
stable snake_case `code`; the HTTP layers translate it into their own dialect."""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, title). The codes are part of the public contract (README, API).
ERRORS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Missing or invalid API key"),
    "invalid_request": (400, "Invalid request"),
    "invalid_phone_number": (400, "Invalid phone number"),
    "invalid_template": (400, "Invalid message template"),
    "country_not_allowed": (403, "Destination country not allowed"),
    "fraud_suspected": (403, "Destination temporarily blocked"),
    "rate_limited": (429, "Too many requests"),
    "max_send_attempts": (429, "Maximum send attempts reached"),
    "resend_too_soon": (429, "Resend requested too soon"),
    "verification_not_found": (404, "Verification not found"),
    "verification_not_pending": (409, "Verification is not pending"),
    "idempotency_key_reused": (422, "Idempotency key reused with another request"),
    "idempotency_in_progress": (409, "A request with this idempotency key is in progress"),
    "provider_unavailable": (502, "No SMS provider could send the message"),
    "store_unavailable": (503, "Verification store unavailable"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "payload_too_large": (413, "Request body too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "request_header_fields_too_large": (431, "Request headers too large"),
    "internal_error": (500, "Internal error"),
}


class VerifyError(Exception):
    """A failure with a stable public code. `detail` must never contain a code or a secret."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.status, self.title = ERRORS[code]
        self.detail = detail or self.title
        self.retry_after = retry_after
        self.extra = extra or {}
        super().__init__(f"{code}: {self.detail}")
