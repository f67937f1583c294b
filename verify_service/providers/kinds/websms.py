"""`websms` (LINK Mobility Austria): REST API `POST /smsmessaging/text` (seed 002).

websms answers HTTP 200 for application errors too: success is `statusCode` 2000 (sent) or
2001 (queued), anything else is an error from its status table."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Self

import httpx
from pydantic import SecretStr, model_validator

from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, retry_after, status_error
from verify_service.providers.http.util import (
    HeaderSecret,
    digits,
    json_answer,
    json_callback,
    safe_detail,
)

SUCCESS = frozenset({2000, 2001})
RETRYABLE = frozenset({4023, 5000, 5003})  # IP throttling, internal error, unavailable
RECIPIENT_INVALID = frozenset({4002})
# The account cannot send: invalid credentials or inactive account, message limit reached,
# IP not authorised, invalid account, access denied, SMS not allowed.
EXHAUSTED = frozenset({4001, 4013, 4014, 4021, 4022, 4035})
STATUS_NAMES = {
    4001: "INVALID_CREDENTIALS",
    4002: "INVALID_RECIPIENT",
    4003: "INVALID_SENDER",
    4009: "INVALID_TEXT",
    4013: "MSG_LIMIT_EXCEEDED",
    4014: "UNAUTHORIZED_IP",
    4019: "PARAMETER_MISSING",
    4021: "INVALID_ACCOUNT",
    4022: "ACCESS_DENIED",
    4023: "THROTTLING_SPAMMING_IP",
    4026: "MAX_SMS_PER_MESSAGE_EXCEEDED",
    4031: "RECIPIENTS_BLACKLISTED",
    4032: "NO_DEVICE_ENABLED",  # WhatsApp: no sender device enabled for the account
    4033: "WHATSAPP_DISABLED",  # WhatsApp: not allowed for the account
    4035: "SMS_DISABLED",
    5000: "INTERNAL_ERROR",
    5003: "SERVICE_UNAVAILABLE",
}
# Final delivery states; `accepted` (handed to the network) is intermediate.
DELIVERED = frozenset({"delivered"})
UNDELIVERED = frozenset({"undelivered", "expired", "deleted", "rejected"})


def status_code_error(
    code: int, answer: dict[str, Any], response: httpx.Response, message: OutgoingMessage
) -> ProviderError:
    """A websms `statusCode` other than success, as a ProviderError (its class from the
    status table; the provider's own words only when they do not repeat the message)."""
    name = STATUS_NAMES.get(code, "error")
    detail = safe_detail(answer.get("statusMessage") or "", message.secret_text)
    return ProviderError(
        f"websms {code} {name}" + (f": {detail}" if detail else ""),
        retryable=code in RETRYABLE,
        recipient_invalid=code in RECIPIENT_INVALID,
        retry_after=retry_after(response),
        exhausted=code in EXHAUSTED,
    )


class WebsmsOptions(ProviderOptions):
    access_token: HeaderSecret | None = None
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    # websms's own `test` flag: the request is validated and answered, nothing is sent.
    test: bool = False

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        basic = self.username is not None or self.password is not None
        if self.access_token is not None and basic:
            raise ValueError("give either access_token or username + password, not both")
        if self.access_token is None and (self.username is None or self.password is None):
            raise ValueError("access_token, or username and password, are required")
        return self


class WebsmsProvider(HttpProvider):
    kind = "websms"
    Options = WebsmsOptions
    default_base_url = "https://api.websms.com/rest"

    @property
    def opts(self) -> WebsmsOptions:
        assert isinstance(self.options, WebsmsOptions)
        return self.options

    def _authorization(self) -> str:
        o = self.opts
        if o.access_token is not None:
            return f"Bearer {o.access_token.get_secret_value()}"
        assert o.username is not None
        assert o.password is not None
        pair = f"{o.username}:{o.password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _body(self, message: OutgoingMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            # websms takes MSISDNs as JSON numbers (int64), not strings.
            "recipientAddressList": [int(digits(message.to))],
            "messageContent": message.text,
            "clientMessageId": message.reference,
        }
        if self.opts.test:
            body["test"] = True
        sender = self.opts.sender
        if sender:
            if any(c.isalpha() for c in sender):
                body.update(senderAddress=sender, senderAddressType="alphanumeric")
            else:
                body.update(senderAddress=digits(sender), senderAddressType="international")
        return body

    async def send(self, message: OutgoingMessage) -> SendResult:
        response = await self.request(
            "POST",
            f"{self.base_url}/smsmessaging/text",
            json=self._body(message),
            headers={"Authorization": self._authorization(), "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise ProviderError("HTTP 401: credentials refused", retryable=False, exhausted=True)
        if response.status_code != 200:
            raise status_error(response, "websms error")
        answer = json_answer(response)
        code = answer.get("statusCode") if isinstance(answer, dict) else None
        if not isinstance(code, int):
            raise ProviderError("websms answer without a statusCode", retryable=False)
        if code in SUCCESS:
            transfer_id = answer.get("transferId")
            return SendResult(message_id=str(transfer_id) if transfer_id else None)
        raise status_code_error(code, answer, response, message)

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        data = json_callback(body)
        if not isinstance(data, dict) or "messageType" not in data:
            raise ValueError("not a websms notification (no messageType)")
        if data["messageType"] != "deliveryReport":
            return []  # e.g. inbound text messages on the same callback URL
        status = str(data.get("deliveryReportMessageStatus", "")).lower()
        transfer_id = data.get("transferId")
        if not transfer_id:
            raise ValueError("websms delivery report without transferId")
        if status in DELIVERED:
            return [DeliveryReport(str(transfer_id), "delivered", status)]
        if status in UNDELIVERED:
            return [DeliveryReport(str(transfer_id), "undelivered", status)]
        return []

    def report_answer(self) -> dict[str, Any]:
        # websms expects its own success shape in the answer to a notification.
        return {"statusCode": 2000, "statusMessage": "OK"}
