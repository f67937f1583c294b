"""Python client for verify-service's native API v1.

Needs only httpx and the standard library (no server dependencies), so that an
application can use it without pulling in litestar or redis:

    from verify_service.client import VerifyClient, ResendTooSoonError

    with VerifyClient() as verify:          # VERIFY_URL and VERIFY_API_KEY from the environment
        verify.start("+41791234567", locale="de")
        result = verify.check("123456", to="+41791234567")
        if result.approved: ...

Every problem document of the API becomes an exception: one class per `code`, all
subclasses of `VerifyServiceError` (which carries `code`, `status`, `detail` and
`retry_after`). Network failures and timeouts raise `VerifyConnectionError`.

The modules behind this package are private (`_models`, `_errors`, `_calls`, `_sync`,
`_async`); import from `verify_service.client` only: its `__all__` is the public surface
(pinned by tests/unit/client/test_exported_members.py).
"""

from verify_service.client._async import AsyncVerifyClient
from verify_service.client._calls import DEFAULT_TIMEOUT
from verify_service.client._errors import (
    ERRORS,
    ChannelNotAllowedError,
    CountryNotAllowedError,
    FraudSuspectedError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    InternalError,
    InvalidEmailAddressError,
    InvalidPhoneNumberError,
    InvalidRequestError,
    InvalidTemplateError,
    MaxSendAttemptsError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestHeaderFieldsTooLargeError,
    ResendTooSoonError,
    StoreUnavailableError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    VerificationNotFoundError,
    VerificationNotPendingError,
    VerifyConnectionError,
    VerifyServiceError,
    error_from_response,
)
from verify_service.client._models import CheckResult, OutboxMessage, SendAttempt, Verification
from verify_service.client._sync import VerifyClient

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERRORS",
    "AsyncVerifyClient",
    "ChannelNotAllowedError",
    "CheckResult",
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
    "OutboxMessage",
    "PayloadTooLargeError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "RequestHeaderFieldsTooLargeError",
    "ResendTooSoonError",
    "SendAttempt",
    "StoreUnavailableError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "Verification",
    "VerificationNotFoundError",
    "VerificationNotPendingError",
    "VerifyClient",
    "VerifyConnectionError",
    "VerifyServiceError",
    "error_from_response",
]
