"""`http`: any provider with an HTTP API, on any channel (SMS, WhatsApp, a voice/TTS call,
email), configured rather than coded.

The body is a template: a table whose string values may hold `{to}`, `{to_digits}`, `{text}`,
`{reference}`, `{channel}`, `{code}` (the bare code, for template-based WhatsApp or voice
APIs), `{subject}` and `{html}` (email; empty on other channels). Placeholders are replaced
inside the values and the body is encoded afterwards (JSON or form), so a text with quotes,
`&` or braces can never break out of its field. With `signing_secret` every request is
signed in the Standard Webhooks style, for sending through an endpoint of one's own that
must know the request came from us."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from verify_service.providers.base import (
    ALL_CHANNELS,
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, status_error
from verify_service.providers.http.util import (
    HeaderName,
    HeaderSecret,
    HeaderValue,
    digits,
    dotted,
    json_answer,
    safe_detail,
)
from verify_service.webhooks.signing import secret_key, signature_headers

PLACEHOLDERS = ("to", "to_digits", "text", "reference", "channel", "code", "subject", "html")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str
    password: SecretStr


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: HeaderSecret


Auth = Annotated[BasicAuth | BearerAuth, Field(discriminator="type")]


def placeholders_in(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, Mapping):
        return set().union(*(placeholders_in(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(placeholders_in(v) for v in template))
    return set()


def render(template: Any, values: Mapping[str, str]) -> Any:
    """The template with placeholders replaced in every string, in one pass: a value that
    itself contains "{to}" stays as it is."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, Mapping):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


def _form_value(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def encode(body: Mapping[str, Any], body_format: str) -> tuple[bytes, str]:
    """The rendered body as bytes with its content type; these exact bytes get signed."""
    if body_format == "json":
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return data, "application/json"
    pairs = [(k, _form_value(v)) for k, v in body.items()]
    return urlencode(pairs).encode(), "application/x-www-form-urlencoded"


def _same(found: Any, expected: Scalar) -> bool:
    """Config files and JSON disagree on types ("0" vs 0, true vs "true"): compare as text,
    but never let True pass for 1."""
    if isinstance(found, bool) or isinstance(expected, bool):
        return _form_value(found) == _form_value(expected) if found is not None else False
    return bool(found == expected) or (found is not None and str(found) == str(expected))


class HttpOptions(ProviderOptions):
    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "PATCH", "GET"] = "POST"
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    body_format: Literal["json", "form"] = "json"
    body: dict[str, Any]
    auth: Auth | None = None
    success_status: list[int] = Field(default_factory=lambda: [200, 201, 202], min_length=1)
    success_field: str | None = None
    success_value: Scalar | None = None
    message_id_field: str | None = None
    message_id_header: str | None = None
    # Statuses by which the endpoint says "this number cannot receive SMS": no failover.
    recipient_invalid_status: list[int] = Field(default_factory=list)
    signing_secret: SecretStr | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: Any) -> Any:
        return method.upper() if isinstance(method, str) else method

    @field_validator("signing_secret")
    @classmethod
    def _secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None:
            secret_key(secret.get_secret_value())
        return secret

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_url is not None:
            raise ValueError("the http kind takes the whole address in url, not base_url")
        used = placeholders_in(self.body)
        unknown = used - set(PLACEHOLDERS)
        if unknown:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValueError(f"body: unknown placeholders {sorted(unknown)} (known: {known})")
        if not used & {"text", "code", "html"}:
            raise ValueError("body must contain {text} (or {code}) somewhere, or no code is sent")
        if not used & {"to", "to_digits"}:
            raise ValueError("body must contain {to} or {to_digits}")
        if (self.body_format == "form" or self.method == "GET") and any(
            not isinstance(v, Scalar) for v in self.body.values()
        ):
            raise ValueError("a form or query body takes plain values only, no tables or lists")
        if self.signing_secret is not None and self.method == "GET":
            # A GET carries the message in the query, which the signature does not cover.
            raise ValueError("signing_secret needs a request body: use POST, PUT or PATCH")
        if any(not 100 <= s <= 599 for s in self.success_status + self.recipient_invalid_status):
            raise ValueError("HTTP statuses are 100-599")
        if (self.success_field is None) != (self.success_value is None):
            raise ValueError("success_field and success_value go together")
        if self.message_id_field and self.message_id_header:
            raise ValueError("give message_id_field or message_id_header, not both")
        return self


class HttpGenericProvider(HttpProvider):
    kind = "http"
    Options = HttpOptions
    channels = ALL_CHANNELS

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        secret = self.opts.signing_secret
        self._key = secret_key(secret.get_secret_value()) if secret else None
        # The headers depend on the config and the body's content type alone: built once
        # per content type (a copy per send, which a signature may add to).
        self._fixed_headers: dict[str | None, dict[str, str]] = {}

    @property
    def opts(self) -> HttpOptions:
        assert isinstance(self.options, HttpOptions)
        return self.options

    def _headers(self, content_type: str | None) -> dict[str, str]:
        # Header names are case-insensitive: a configured "content-type" must replace ours,
        # not travel next to it.
        configured = {k.lower() for k in self.opts.headers}
        headers = {"Accept": "application/json"} if "accept" not in configured else {}
        if content_type and "content-type" not in configured:
            headers["Content-Type"] = content_type
        headers.update(self.opts.headers)
        auth = self.opts.auth
        if auth is not None:  # the auth block wins over a configured Authorization header
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if isinstance(auth, BearerAuth):
            headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        elif isinstance(auth, BasicAuth):
            pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return headers

    async def send(self, message: OutgoingMessage) -> SendResult:
        o = self.opts
        rendered = render(
            o.body,
            {
                "to": message.to,
                "to_digits": digits(message.to),
                "text": message.text,
                "reference": message.reference,
                "channel": message.channel,
                "code": message.code,
                "subject": message.subject or "",
                "html": message.html or "",
            },
        )
        kwargs: dict[str, Any] = {}
        if o.method == "GET":
            content, content_type = b"", None
            kwargs["params"] = {k: _form_value(v) for k, v in rendered.items()}
        else:
            content, content_type = encode(rendered, o.body_format)
            kwargs["content"] = content
        fixed = self._fixed_headers.get(content_type)
        if fixed is None:
            fixed = self._fixed_headers[content_type] = self._headers(content_type)
        headers = dict(fixed)
        if self._key is not None:
            # One id per send: the same reference on a retry lets the receiver deduplicate.
            webhook_id = "msg_" + message.reference.replace(".", "_")
            headers.update(signature_headers(self._key, webhook_id, int(time.time()), content))
        response = await self.request(o.method, o.url, headers=headers, fixed_url=True, **kwargs)
        status = response.status_code
        if status in o.recipient_invalid_status:
            raise ProviderError(
                f"HTTP {status}: recipient refused", retryable=False, recipient_invalid=True
            )
        if status not in o.success_status:
            raise status_error(response, "not a success status")
        answer = json_answer(response) if (o.success_field or o.message_id_field) else None
        if o.success_field is not None and o.success_value is not None:
            found = dotted(answer, o.success_field)
            if not _same(found, o.success_value):
                shown = (
                    safe_detail(found, message.secret_text) if isinstance(found, Scalar) else "-"
                )
                raise ProviderError(
                    f"HTTP {status}: {o.success_field} is {shown}, not {o.success_value}",
                    retryable=False,
                )
        return SendResult(message_id=self._message_id(response, answer))

    def _message_id(self, response: httpx.Response, answer: Any) -> str | None:
        if self.opts.message_id_header:
            value = response.headers.get(self.opts.message_id_header)
            return str(value) if value else None
        if self.opts.message_id_field:
            value = dotted(answer, self.opts.message_id_field)
            return str(value) if value is not None and value != "" else None
        return None
