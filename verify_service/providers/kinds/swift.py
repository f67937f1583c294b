"""`swift`: Swift SMS Gateway, `POST <base>/v1/sms` (seed 001).

The answer holds one result per recipient; the message went out when that result's
`error_code` is "OK". HTTP 200 (all OK), 207 (partial) and 422 (error) all carry results,
so the status alone decides nothing. Its delivery-report webhook is not documented, so
this kind has no `parse_reports`."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from verify_service.providers.base import (
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, retry_after, status_error
from verify_service.providers.http.util import HeaderSecret, json_answer, safe_detail

RESULT_STATUSES = frozenset({200, 207, 422})
RETRYABLE = frozenset(
    {"temporary_error", "internal_error", "upstream_error", "too_many_dispatches"}
)
# The seed's own example: the account may not send SMS at all. Words of other account-level
# codes (credit, balance, disabled, suspended) mean the same whatever their exact spelling.
_EXHAUSTED = re.compile(r"^account_|credit|balance|disabled|suspended|quota", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SwiftOptions(ProviderOptions):
    api_key: HeaderSecret
    sender: str | None = None
    # Swift's list of error codes is not in its public pages: name here the codes that mean
    # "this number cannot receive SMS" so that they stop failover (compared ignoring case).
    recipient_invalid_codes: list[str] = Field(default_factory=list)

    @field_validator("recipient_invalid_codes")
    @classmethod
    def _lower(cls, codes: list[str]) -> list[str]:
        return [c.lower() for c in codes]


class SwiftProvider(HttpProvider):
    kind = "swift"
    Options = SwiftOptions
    default_base_url = "https://sms.swift-api.com"

    @property
    def opts(self) -> SwiftOptions:
        assert isinstance(self.options, SwiftOptions)
        return self.options

    async def send(self, message: OutgoingMessage) -> SendResult:
        body: dict[str, object] = {
            "body": message.text,
            "to": [message.to],
            "id": message.reference,
        }
        if self.opts.sender:
            body["from"] = self.opts.sender
        response = await self.request(
            "POST",
            f"{self.base_url}/v1/sms",
            json=body,
            headers={
                "Authorization": f"Bearer {self.opts.api_key.get_secret_value()}",
                "Accept": "application/json",
            },
        )
        if response.status_code not in RESULT_STATUSES:
            raise status_error(response, "swift error")
        answer = json_answer(response)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise ProviderError(
                f"HTTP {response.status_code}: swift answer without results", retryable=False
            )
        result = results[0]
        code = str(result.get("error_code") or "")
        if code.lower() == "ok" and response.status_code != 422:
            message_id = result.get("id")
            return SendResult(message_id=str(message_id) if message_id else None)
        shown = safe_detail(code, message.secret_text) if _CODE.match(code) else "unknown"
        raise ProviderError(
            f"HTTP {response.status_code}: swift error_code {shown}",
            retryable=code.lower() in RETRYABLE,
            recipient_invalid=code.lower() in self.opts.recipient_invalid_codes,
            retry_after=retry_after(response),
            exhausted=bool(_EXHAUSTED.search(code)),
        )
