"""Requests, shared by both clients: each call is built and its answer read by pure
functions, and `ClientBase` holds the headers and the answer handling; the two clients only
add the I/O, so that the blocking and the async client cannot drift apart (httpx's
`BaseClient` pattern)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from verify_service.client._errors import (
    VerifyConnectionError,
    VerifyServiceError,
    error_from_response,
)
from verify_service.client._models import CheckResult, OutboxMessage, Verification

__all__ = [
    "DEFAULT_TIMEOUT",
    "Call",
    "ClientBase",
    "cancel",
    "check",
    "connection_errors",
    "fetch",
    "resolve_settings",
    "start",
    "test_messages",
]

DEFAULT_TIMEOUT = 10.0  # seconds; a start waits for the SMS provider, which may take a few

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
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


def start(
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
) -> Call[Verification]:
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
    return Call("POST", "/v1/verifications", Verification.from_json, json=body, headers=headers)


def check(code: str, to: str | None, verification_id: str | None) -> Call[CheckResult]:
    if (to is None) == (verification_id is None):
        raise ValueError("give exactly one of `to` and `verification_id`")
    body = _drop_none(code=code, to=to, verification_id=verification_id)
    return Call("POST", "/v1/verifications/check", CheckResult.from_json, json=body)


def fetch(verification_id: str) -> Call[Verification]:
    return Call("GET", _id_path(verification_id), Verification.from_json)


def cancel(verification_id: str) -> Call[Verification]:
    return Call("POST", _id_path(verification_id, "/cancel"), Verification.from_json)


def _outbox(data: Any) -> list[OutboxMessage]:
    return [OutboxMessage.from_json(m) for m in data["messages"]]


def test_messages(to: str) -> Call[list[OutboxMessage]]:
    return Call("GET", "/v1/test/messages", _outbox, params={"to": to})


@contextmanager
def connection_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise VerifyConnectionError(f"{type(exc).__name__}: {exc}") from exc


def resolve_settings(
    base_url: str | None, api_key: str | None, has_client: bool
) -> tuple[str, str]:
    base_url = base_url or os.environ.get("VERIFY_URL")
    api_key = api_key or os.environ.get("VERIFY_API_KEY")
    if not api_key:
        raise ValueError("no API key: pass api_key= or set VERIFY_API_KEY")
    if not base_url:
        if not has_client:
            raise ValueError("no service URL: pass base_url= or set VERIFY_URL")
        base_url = ""  # relative to the given http_client's own base_url
    return base_url.rstrip("/"), api_key


class ClientBase:
    def __init__(self, base_url: str, api_key: str, headers: Mapping[str, str] | None) -> None:
        self.base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json, application/problem+json",
            **(headers or {}),
        }

    def _build(self, client: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        return client.build_request(
            call.method,
            self.base_url + call.path,
            json=call.json,
            params=call.params,
            headers={**self._headers, **call.headers},
        )

    @staticmethod
    def _answer(call: Call[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise error_from_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise VerifyServiceError("the answer is not JSON", status=response.status_code) from exc
        return call.parse(data)
