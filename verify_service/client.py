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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote

import httpx

__all__ = [
    "ERRORS",
    "AsyncVerifyClient",
    "CheckResult",
    "OutboxMessage",
    "SendAttempt",
    "Verification",
    "VerifyClient",
    "VerifyConnectionError",
    "VerifyServiceError",
    "error_from_response",
]

DEFAULT_TIMEOUT = 10.0  # seconds; a start waits for the SMS provider, which may take a few

# --- models --------------------------------------------------------------------------------


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class SendAttempt:
    at: datetime
    provider: str
    message_id: str | None
    status: str  # sent | failed | delivered | undelivered
    error: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SendAttempt:
        return cls(
            at=_time(data["at"]),
            provider=data["provider"],
            message_id=data.get("message_id"),
            status=data["status"],
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Verification:
    id: str
    service: str
    to: str
    channel: str
    status: str  # pending | approved | canceled | expired | max_attempts_reached | failed
    token_type: str
    token_length: int
    created_at: datetime
    expires_at: datetime
    check_attempts: int
    max_check_attempts: int
    attempts_remaining: int
    send_attempts: tuple[SendAttempt, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        # Fields the server adds later are ignored rather than breaking older clients.
        return cls(
            id=data["id"],
            service=data["service"],
            to=data["to"],
            channel=data["channel"],
            status=data["status"],
            token_type=data["token_type"],
            token_length=data["token_length"],
            created_at=_time(data["created_at"]),
            expires_at=_time(data["expires_at"]),
            check_attempts=data["check_attempts"],
            max_check_attempts=data["max_check_attempts"],
            attempts_remaining=data["attempts_remaining"],
            send_attempts=tuple(SendAttempt.from_json(a) for a in data.get("send_attempts", [])),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: str
    valid: bool
    attempts_remaining: int

    @property
    def approved(self) -> bool:
        """True only for the check that approved the verification (not for a replay)."""
        return self.valid and self.status == "approved"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=data["id"],
            status=data["status"],
            valid=data["valid"],
            attempts_remaining=data["attempts_remaining"],
        )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message the service's `capture` provider kept (test_mode only)."""

    to: str
    text: str
    at: datetime
    message_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutboxMessage:
        return cls(data["to"], data["text"], _time(data["at"]), data["message_id"])


# --- errors --------------------------------------------------------------------------------


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
__all__ += [cls.__name__ for cls in ERRORS.values()]


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


# --- requests, shared by both clients --------------------------------------------------------
# Each call is built and its answer read by pure functions; the two clients only add the I/O,
# so that the blocking and the async client cannot drift apart.

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]  # the JSON of a 2xx answer -> what the method returns
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _id_path(verification_id: str, suffix: str = "") -> str:
    # Quoted whole: an id can never reach another route (`../`, `?`, `#`).
    return f"/v1/verifications/{quote(verification_id, safe='')}{suffix}"


def _start(
    to: str,
    *,
    channel: str | None,
    token_type: str | None,
    token_length: int | None,
    expires_in: int | None,
    template: str | None,
    locale: str | None,
    metadata: Mapping[str, str] | None,
    accept_language: str | None,
    idempotency_key: str | None,
) -> _Call[Verification]:
    body = _drop_none(
        to=to,
        channel=channel,
        token_type=token_type,
        token_length=token_length,
        expires_in=expires_in,
        template=template,
        locale=locale,
        metadata=dict(metadata) if metadata is not None else None,
    )
    headers = _drop_none(**{"Idempotency-Key": idempotency_key, "Accept-Language": accept_language})
    return _Call("POST", "/v1/verifications", Verification.from_json, json=body, headers=headers)


def _check(code: str, to: str | None, verification_id: str | None) -> _Call[CheckResult]:
    if (to is None) == (verification_id is None):
        raise ValueError("give exactly one of `to` and `verification_id`")
    body = _drop_none(code=code, to=to, verification_id=verification_id)
    return _Call("POST", "/v1/verifications/check", CheckResult.from_json, json=body)


def _fetch(verification_id: str) -> _Call[Verification]:
    return _Call("GET", _id_path(verification_id), Verification.from_json)


def _cancel(verification_id: str) -> _Call[Verification]:
    return _Call("POST", _id_path(verification_id, "/cancel"), Verification.from_json)


def _outbox(data: Any) -> list[OutboxMessage]:
    return [OutboxMessage.from_json(m) for m in data["messages"]]


def _test_messages(to: str) -> _Call[list[OutboxMessage]]:
    return _Call("GET", "/v1/test/messages", _outbox, params={"to": to})


@contextmanager
def _connection_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise VerifyConnectionError(f"{type(exc).__name__}: {exc}") from exc


def _settings(base_url: str | None, api_key: str | None, has_client: bool) -> tuple[str, str]:
    base_url = base_url or os.environ.get("VERIFY_URL")
    api_key = api_key or os.environ.get("VERIFY_API_KEY")
    if not api_key:
        raise ValueError("no API key: pass api_key= or set VERIFY_API_KEY")
    if not base_url:
        if not has_client:
            raise ValueError("no service URL: pass base_url= or set VERIFY_URL")
        base_url = ""  # relative to the given http_client's own base_url
    return base_url.rstrip("/"), api_key


class _ClientBase:
    def __init__(self, base_url: str, api_key: str, headers: Mapping[str, str] | None) -> None:
        self.base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json, application/problem+json",
            **(headers or {}),
        }

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: _Call[Any]) -> httpx.Request:
        return client.build_request(
            call.method,
            self.base_url + call.path,
            json=call.json,
            params=call.params,
            headers={**self._headers, **call.headers},
        )

    @staticmethod
    def _answer(call: _Call[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise error_from_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise VerifyServiceError("the answer is not JSON", status=response.status_code) from exc
        return call.parse(data)


class VerifyClient(_ClientBase):
    """Blocking client. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        base, key = _settings(base_url, api_key, http_client is not None)
        super().__init__(base, key, headers)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=timeout, transport=transport)

    def _send(self, call: _Call[T]) -> T:
        with _connection_errors():
            response = self._client.send(self._build(self._client, call))
        return self._answer(call, response)

    def start(
        self,
        to: str,
        *,
        channel: str | None = None,
        token_type: str | None = None,
        token_length: int | None = None,
        expires_in: int | None = None,
        template: str | None = None,
        locale: str | None = None,
        metadata: Mapping[str, str] | None = None,
        accept_language: str | None = None,
        idempotency_key: str | None = None,
    ) -> Verification:
        """Send a code to `to` (or resend: a pending verification for `to` gets a new code)."""
        call = _start(
            to,
            channel=channel,
            token_type=token_type,
            token_length=token_length,
            expires_in=expires_in,
            template=template,
            locale=locale,
            metadata=metadata,
            accept_language=accept_language,
            idempotency_key=idempotency_key,
        )
        return self._send(call)

    def check(
        self, code: str, *, to: str | None = None, verification_id: str | None = None
    ) -> CheckResult:
        """A wrong code is a result (`valid=False`), not an exception."""
        return self._send(_check(code, to, verification_id))

    def fetch(self, verification_id: str) -> Verification:
        return self._send(_fetch(verification_id))

    def cancel(self, verification_id: str) -> Verification:
        return self._send(_cancel(verification_id))

    def test_messages(self, to: str) -> list[OutboxMessage]:
        """The test outbox for `to`, newest first (only a service in test_mode has one)."""
        return self._send(_test_messages(to))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncVerifyClient(_ClientBase):
    """The same API for asyncio / trio code. Use `async with`, or await aclose()."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        base, key = _settings(base_url, api_key, http_client is not None)
        super().__init__(base, key, headers)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)

    async def _send(self, call: _Call[T]) -> T:
        with _connection_errors():
            response = await self._client.send(self._build(self._client, call))
        return self._answer(call, response)

    async def start(
        self,
        to: str,
        *,
        channel: str | None = None,
        token_type: str | None = None,
        token_length: int | None = None,
        expires_in: int | None = None,
        template: str | None = None,
        locale: str | None = None,
        metadata: Mapping[str, str] | None = None,
        accept_language: str | None = None,
        idempotency_key: str | None = None,
    ) -> Verification:
        """Send a code to `to` (or resend: a pending verification for `to` gets a new code)."""
        call = _start(
            to,
            channel=channel,
            token_type=token_type,
            token_length=token_length,
            expires_in=expires_in,
            template=template,
            locale=locale,
            metadata=metadata,
            accept_language=accept_language,
            idempotency_key=idempotency_key,
        )
        return await self._send(call)

    async def check(
        self, code: str, *, to: str | None = None, verification_id: str | None = None
    ) -> CheckResult:
        """A wrong code is a result (`valid=False`), not an exception."""
        return await self._send(_check(code, to, verification_id))

    async def fetch(self, verification_id: str) -> Verification:
        return await self._send(_fetch(verification_id))

    async def cancel(self, verification_id: str) -> Verification:
        return await self._send(_cancel(verification_id))

    async def test_messages(self, to: str) -> list[OutboxMessage]:
        """The test outbox for `to`, newest first (only a service in test_mode has one)."""
        return await self._send(_test_messages(to))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
