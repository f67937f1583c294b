"""The async client: the blocking one's methods, awaited (asyncio or trio)."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx

from verify_service.client import _calls as calls
from verify_service.client._calls import DEFAULT_TIMEOUT, Call, ClientBase
from verify_service.client._models import CheckResult, OutboxMessage, Verification

__all__ = ["AsyncVerifyClient"]

T = TypeVar("T")


class AsyncVerifyClient(ClientBase):
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
        base, key = calls.resolve_settings(base_url, api_key, http_client is not None)
        super().__init__(base, key, headers)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)

    async def _send(self, call: Call[T]) -> T:
        with calls.connection_errors():
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
        return await self._send(call)

    async def check(
        self, code: str, *, to: str | None = None, verification_id: str | None = None
    ) -> CheckResult:
        """A wrong code is a result (`valid=False`), not an exception."""
        return await self._send(calls.check(code, to, verification_id))

    async def fetch(self, verification_id: str) -> Verification:
        return await self._send(calls.fetch(verification_id))

    async def cancel(self, verification_id: str) -> Verification:
        return await self._send(calls.cancel(verification_id))

    async def test_messages(self, to: str) -> list[OutboxMessage]:
        """The test outbox for `to`, newest first (only a service in test_mode has one)."""
        return await self._send(calls.test_messages(to))

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
