"""`websms_whatsapp`: WhatsApp through the websms| Messaging API (LINK Mobility Austria).

Authentication is OAuth 2.0 client credentials: `POST /oauth/token` on the auth host with
HTTP Basic `client_id:client_secret` and `grant_type=client_credentials&scope=
messaging:whatsapp`; the bearer token lasts `expires_in` seconds (minutes) and is fetched
again shortly before it ends, or at once when the API answers 401. Sends are
`POST /messaging/whatsapp/send_template` (the code as the approved authentication
template's parameter, what a first message to a person must be) or
`POST /messaging/whatsapp/send_text` (free text, inside the 24-hour window only).

Errors: HTTP status classes as every kind, and websms's `statusCode` table (seed 002) when
the answer carries one: 4032 NO_DEVICE_ENABLED (no WhatsApp sender is enabled for the
account) and 4033 WHATSAPP_DISABLED (WhatsApp is not allowed for the account) are
permanent, so delivery fails over to the next provider, and a workflow to its next step.

The request fields (`recipient`, `text`, `templateName`, `language`, `parameters`) follow
the Messaging API's OpenAPI document as summarised in PROVIDERS.md; check them against the
document on websms's developer page before relying on this kind in production."""

from __future__ import annotations

import base64
import time
from typing import Any, ClassVar

import anyio
from pydantic import Field, SecretStr

from verify_service.providers.base import (
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, status_error
from verify_service.providers.http.util import digits, header_value, json_answer
from verify_service.providers.kinds.websms import SUCCESS, status_code_error

TOKEN_MARGIN = 30.0  # seconds before its end that a token is renewed


class WebsmsWhatsappOptions(ProviderOptions):
    client_id: str
    client_secret: SecretStr
    auth_url: str = Field(default="https://auth.websms.com/oauth/token", pattern=r"^https?://")
    # The approved authentication template, its language; None = free text (24 h window).
    template: str | None = None
    language: str = "en"


class WebsmsWhatsappProvider(HttpProvider):
    kind = "websms_whatsapp"
    Options = WebsmsWhatsappOptions
    default_base_url = "https://api.websms.com"
    channels: ClassVar[frozenset[str]] = frozenset({"whatsapp"})

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock: anyio.Lock | None = None

    @property
    def opts(self) -> WebsmsWhatsappOptions:
        assert isinstance(self.options, WebsmsWhatsappOptions)
        return self.options

    async def _bearer(self, *, renew: bool = False) -> str:
        # One token request at a time: a burst of sends shares the fresh token.
        if self._token_lock is None:
            self._token_lock = anyio.Lock()
        async with self._token_lock:
            if renew or self._token is None or time.monotonic() >= self._token_until:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    async def _fetch_token(self) -> None:
        o = self.opts
        pair = f"{o.client_id}:{o.client_secret.get_secret_value()}".encode()
        response = await self.request(
            "POST",
            o.auth_url,
            data={"grant_type": "client_credentials", "scope": "messaging:whatsapp"},
            headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
        )
        if response.status_code in (400, 401, 403):
            raise ProviderError(
                f"HTTP {response.status_code}: websms token refused", retryable=False
            )
        if response.status_code != 200:
            raise status_error(response, "websms token error")
        answer = json_answer(response)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderError("websms token answer without access_token", retryable=False)
        try:  # it goes into every send's Authorization header
            header_value(token)
        except ValueError as exc:  # its words name the problem, never the token
            raise ProviderError(f"websms access_token {exc}", retryable=False) from None
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 60.0
        self._token = token
        self._token_until = time.monotonic() + max(0.0, seconds - TOKEN_MARGIN)

    def _request(self, message: OutgoingMessage) -> tuple[str, dict[str, Any]]:
        o = self.opts
        recipient = digits(message.to)
        if o.template:
            body = {
                "recipient": recipient,
                "templateName": o.template,
                "language": o.language,
                "parameters": [message.code],
                "clientMessageId": message.reference,
            }
            return f"{self.base_url}/messaging/whatsapp/send_template", body
        body = {"recipient": recipient, "text": message.text, "clientMessageId": message.reference}
        return f"{self.base_url}/messaging/whatsapp/send_text", body

    async def send(self, message: OutgoingMessage) -> SendResult:
        url, body = self._request(message)
        response = None
        for renew in (False, True):  # a 401 may be a token that ended early: once more
            token = await self._bearer(renew=renew)
            response = await self.request(
                "POST",
                url,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code != 401:
                break
        assert response is not None
        answer = json_answer(response)
        code = answer.get("statusCode") if isinstance(answer, dict) else None
        if isinstance(code, int) and code not in SUCCESS:
            assert isinstance(answer, dict)
            raise status_code_error(code, answer, response, message)
        if response.status_code == 401:
            raise ProviderError("HTTP 401: credentials refused", retryable=False)
        if not 200 <= response.status_code < 300:
            raise status_error(response, "websms error")
        message_id = None
        if isinstance(answer, dict):
            message_id = answer.get("messageId") or answer.get("transferId")
        return SendResult(message_id=str(message_id) if message_id else None)
