"""The blocking client."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx

from verify_service.client import _calls as calls
from verify_service.client._calls import DEFAULT_TIMEOUT, Call, ClientBase
from verify_service.client._models import CheckResult, OutboxMessage, Verification

__all__ = ["VerifyClient"]

T = TypeVar("T")


class VerifyClient(ClientBase):
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
        base, key = calls.resolve_settings(base_url, api_key, http_client is not None)
        super().__init__(base, key, headers)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=timeout, transport=transport)

    def _send(self, call: Call[T]) -> T:
        with calls.connection_errors():
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
        call = calls.start(
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
        return self._send(calls.check(code, to, verification_id))

    def fetch(self, verification_id: str) -> Verification:
        return self._send(calls.fetch(verification_id))

    def cancel(self, verification_id: str) -> Verification:
        return self._send(calls.cancel(verification_id))

    def test_messages(self, to: str) -> list[OutboxMessage]:
        """The test outbox for `to`, newest first (only a service in test_mode has one)."""
        return self._send(calls.test_messages(to))

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
