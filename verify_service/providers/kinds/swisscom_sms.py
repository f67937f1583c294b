"""`swisscom_sms`: Swisscom Messaging API, `POST /messaging/sms` (seed 000).

201 without a body; the message id is the last segment of `Location` (or `SCS-MessageId`).
Delivery reports come as a PUT to `callbackUrl` on every state change, with the message id
in `Location` and a body assumed to be the GET status shape `{"messageId","status",
"description"}` (unconfirmed: either source of the id is accepted, and a list of such
objects too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from verify_service.domain import json_depth
from verify_service.providers.base import DeliveryReport, OutgoingMessage, SendResult
from verify_service.providers.kinds.swisscom_common import (
    SwisscomHttp,
    SwisscomOptions,
    message_id_from,
)

# Swisscom's state words (case and separators vary between its APIs); intermediate states
# (accepted, sent, buffered, …) are not reports in our terms and are left out.
_DELIVERED = {"delivered", "deliveredtoterminal", "delivered_to_terminal"}
_UNDELIVERED = {
    "undelivered",
    "undeliverable",
    "deliveryimpossible",
    "delivery_impossible",
    "expired",
    "rejected",
    "failed",
    "deleted",
}


class SwisscomSmsOptions(SwisscomOptions):
    callback_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)


class SwisscomSmsProvider(SwisscomHttp):
    kind = "swisscom_sms"
    Options = SwisscomSmsOptions

    async def send(self, message: OutgoingMessage) -> SendResult:
        options = self.options
        assert isinstance(options, SwisscomSmsOptions)
        body: dict[str, Any] = {"to": message.to, "text": message.text}
        if options.sender:
            body["from"] = options.sender
        if options.callback_url:
            body["callbackUrl"] = options.callback_url
        response = await self.call("POST", "/messaging/sms", body)
        return SendResult(message_id=message_id_from(response.headers))

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        try:
            data = json_depth.loads(body) if body.strip() else {}
        except ValueError:
            raise ValueError("the Swisscom delivery report is not JSON") from None
        items = data if isinstance(data, list) else [data]
        header_id = message_id_from({k.lower(): v for k, v in headers.items()})
        reports = []
        for item in items:
            if not isinstance(item, dict):
                raise ValueError("a Swisscom delivery report must be a JSON object")
            message_id = item.get("messageId") or header_id
            status = item.get("status") or item.get("deliveryStatus")
            if not message_id or not isinstance(status, str | int):
                raise ValueError("the Swisscom delivery report has no message id or status")
            word = str(status).strip().lower().replace(" ", "_")
            if word in _DELIVERED:
                ours = "delivered"
            elif word in _UNDELIVERED:
                ours = "undelivered"
            else:
                continue
            detail = str(item.get("description") or status)[:200]
            reports.append(DeliveryReport(str(message_id), ours, detail))
        return reports
