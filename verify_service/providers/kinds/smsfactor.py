"""`smsfactor`: SMSFactor REST API, `POST /send` (seed 004).

SMSFactor answers XML unless asked for JSON (`Accept`). Its `status` is 1 for OK and negative
for errors; -8 means "held for moderation, will be sent": that is success, and retrying it
would send the same SMS twice. A status of 1 with `sent == 0` means the number was filtered
(invalid, blacklisted, flood limit): nothing went out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from verify_service.domain import json_depth
from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, retry_after, status_error
from verify_service.providers.http.util import HeaderSecret, digits, json_answer

OK, MODERATION, UNKNOWN_ERROR = 1, -8, -99
# Authentication error, not enough credits: the account cannot send until a person acts.
EXHAUSTED = frozenset({-1, -3})
STATUS_NAMES = {
    -1: "authentication error",
    -2: "XML error",
    -3: "not enough credits",
    -4: "wrong delay",
    -5: "resource not found",
    -6: "JSON error",
    -7: "data error",
    -99: "unknown error",
}
# DLR statuses: 1 (sent) is intermediate; the rest are final.
DLR_DELIVERED = frozenset({3})
DLR_UNDELIVERED = frozenset({2, 4, 5, 12})


class SmsFactorOptions(ProviderOptions):
    token: HeaderSecret
    sender: str | None = None
    # Documented `/send/simulate`: validates and answers like /send, sends nothing.
    simulate: bool = False


class SmsFactorProvider(HttpProvider):
    kind = "smsfactor"
    Options = SmsFactorOptions
    default_base_url = "https://api.smsfactor.com"

    @property
    def opts(self) -> SmsFactorOptions:
        assert isinstance(self.options, SmsFactorOptions)
        return self.options

    def _body(self, message: OutgoingMessage) -> dict[str, Any]:
        # pushtype "alert" = transactional: no marketing STOP mention appended.
        text: dict[str, str] = {"text": message.text, "pushtype": "alert"}
        if self.opts.sender:
            text["sender"] = self.opts.sender
        recipient = {"gsmsmsid": message.reference, "value": digits(message.to)}
        return {"sms": {"message": text, "recipients": {"gsm": [recipient]}}}

    async def send(self, message: OutgoingMessage) -> SendResult:
        response = await self.request(
            "POST",
            f"{self.base_url}/send/simulate" if self.opts.simulate else f"{self.base_url}/send",
            json=self._body(message),
            headers={
                "Authorization": f"Bearer {self.opts.token.get_secret_value()}",
                "Accept": "application/json",
            },
        )
        answer = json_answer(response)
        status = answer.get("status") if isinstance(answer, dict) else None
        if response.status_code >= 500 or response.status_code == 429:
            raise status_error(response, "smsfactor error")
        if not isinstance(status, int) or isinstance(status, bool):
            raise status_error(response, "smsfactor answer without a status")
        assert isinstance(answer, dict)
        if status in (OK, MODERATION) and not response.is_success:
            raise status_error(response, f"smsfactor status {status}")
        ticket = answer.get("ticket")
        message_id = str(ticket) if ticket else None
        if status == MODERATION:
            return SendResult(message_id=message_id)
        if status != OK:
            name = STATUS_NAMES.get(status, "error")
            raise ProviderError(
                f"smsfactor {status}: {name}",
                retryable=status == UNKNOWN_ERROR,
                retry_after=retry_after(response),
                exhausted=status in EXHAUSTED,
            )
        if _count(answer.get("sent"), default=1) == 0:
            # The counters say why; "invalid" is the number itself, which no provider fixes.
            invalid = _count(answer.get("invalid")) > 0
            raise ProviderError(
                "smsfactor: recipient filtered"
                + (" (invalid number)" if invalid else " (blacklisted, duplicate or flood)"),
                retryable=False,
                recipient_invalid=invalid,
            )
        return SendResult(message_id=message_id)

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        data = _callback_fields(body, headers)
        status = _count(data.get("status"), default=-1)
        # The DLR names the campaign (send's `ticket`) and its own message id; the ticket is
        # what send() returned, so it is what a report must carry to be matched.
        message_id = data.get("campaign_id") or data.get("message_id")
        if status < 0 or not message_id:
            raise ValueError("not a smsfactor delivery report (status, campaign_id)")
        if status in DLR_DELIVERED:
            return [DeliveryReport(str(message_id), "delivered", str(status))]
        if status in DLR_UNDELIVERED:
            return [DeliveryReport(str(message_id), "undelivered", str(status))]
        return []


def _count(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _callback_fields(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """SMSFactor's webhook is shown as JSON, but account webhooks are commonly posted as a
    form: accept both rather than lose reports."""
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    text = body.decode("utf-8", errors="replace")
    if "form" in content_type:
        return dict(parse_qsl(text))
    try:
        data = json_depth.loads(text)
    except ValueError:
        raise ValueError("smsfactor delivery report is neither JSON nor a form") from None
    if not isinstance(data, dict):
        raise ValueError("smsfactor delivery report is not an object")
    return data
