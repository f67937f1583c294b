"""`webex_connect`: Webex Connect (formerly imimobile) Send Message API v1 (seed 003), for
SMS and WhatsApp.

The same endpoint carries both: `deliverychannel` names the channel and a per-channel
object the message. WhatsApp needs the WhatsApp app's `appid` and a WhatsApp ID (the number
without "+") under `destination[].waid`; a first message to a person must be a template
registered with Webex Connect (`whatsapp_template`, the code as its parameter
`whatsapp_code_parameter`), free text (`channels["OTT-Messaging"].wa`) only reaches someone
who wrote within 24 hours.

The API answers HTTP 200 whatever happened: a list under `response` means accepted, an
object under `response` is an error with a 7xxx code. The host depends on the tenant's
region, so `base_url` (e.g. https://api.us.webexconnect.io) is required."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import model_validator

from verify_service.domain.sms import is_gsm7
from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http.base import HttpProvider, status_error
from verify_service.providers.http.util import (
    HeaderSecret,
    digits,
    json_answer,
    json_callback,
    safe_detail,
)

ACCEPTED = "1001"  # "Queued"
RETRYABLE = frozenset({"7006"})  # internal error
EXHAUSTED = frozenset({"7001", "7002", "7007"})  # authentication, key missing, service inactive
CODE_NAMES = {
    "7000": "invalid JSON",
    "7001": "authentication failed",
    "7002": "service key missing",
    "7003": "mandatory parameter missing",
    "7004": "invalid parameter",
    "7006": "internal error",
    "7007": "service inactive",
}
TEXT, UNICODE = "1", "4"  # the `type` of an SMS: GSM text or multi-byte Unicode
DELIVERED = frozenset({"delivered"})
UNDELIVERED = frozenset({"undelivered", "failed"})


class WebexConnectOptions(ProviderOptions):
    service_key: HeaderSecret
    sender_id: str | None = None  # SMS: the sender ID (required for the sms channel)
    # WhatsApp: the WhatsApp app's id, and the registered template that carries the code.
    whatsapp_app_id: str | None = None
    whatsapp_template: str | None = None
    whatsapp_code_parameter: str = "code"

    @model_validator(mode="after")
    def _region_host(self) -> Self:
        if not self.base_url:
            raise ValueError("base_url is required (https://api.<region>.webexconnect.io)")
        return self


class WebexConnectProvider(HttpProvider):
    kind = "webex_connect"
    Options = WebexConnectOptions
    channels = frozenset({"sms", "whatsapp"})

    @classmethod
    def channel_problem(cls, options: ProviderOptions, channel: str) -> str | None:
        assert isinstance(options, WebexConnectOptions)
        if channel == "sms" and not options.sender_id:
            return "sender_id is required for the sms channel"
        if channel == "whatsapp" and not options.whatsapp_app_id:
            return "whatsapp_app_id is required for the whatsapp channel"
        return None

    @property
    def opts(self) -> WebexConnectOptions:
        assert isinstance(self.options, WebexConnectOptions)
        return self.options

    def _whatsapp_body(self, message: OutgoingMessage) -> dict[str, Any]:
        o = self.opts
        body: dict[str, Any] = {
            "appid": o.whatsapp_app_id,
            "deliverychannel": "whatsapp",
            "destination": [{"waid": [digits(message.to)]}],
            "correlationid": message.reference,
        }
        if o.whatsapp_template:
            body["message"] = {
                "template": o.whatsapp_template,
                "parameters": {o.whatsapp_code_parameter: message.code},
            }
        else:
            body["channels"] = {
                "OTT-Messaging": {"wa": {"type": "text", "text": {"body": message.text}}}
            }
        return body

    def _body(self, message: OutgoingMessage) -> dict[str, Any]:
        if message.channel == "whatsapp":
            return self._whatsapp_body(message)
        return {
            "deliverychannel": "sms",
            "destination": [{"msisdn": [message.to]}],
            "channels": {
                "sms": {
                    "senderid": self.opts.sender_id,
                    "text": message.text,
                    # Unicode costs 2-3x the segments: only when the text needs it.
                    "type": TEXT if is_gsm7(message.text) else UNICODE,
                }
            },
            "correlationid": message.reference,
        }

    async def send(self, message: OutgoingMessage) -> SendResult:
        response = await self.request(
            "POST",
            f"{self.base_url}/resources/v1/messaging",
            json=self._body(message),
            headers={"key": self.opts.service_key.get_secret_value(), "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise status_error(response, "webex connect error")
        answer = json_answer(response)
        outcome = answer.get("response") if isinstance(answer, dict) else None
        if isinstance(outcome, list) and outcome and isinstance(outcome[0], dict):
            outcome = outcome[0]
            if str(outcome.get("code")) == ACCEPTED:
                transid = outcome.get("transid")
                return SendResult(message_id=str(transid) if transid else None)
        if not isinstance(outcome, dict):
            raise ProviderError("webex connect answer without a response", retryable=False)
        code = safe_detail(outcome.get("code"), message.secret_text)
        name = CODE_NAMES.get(code) or safe_detail(
            outcome.get("description") or "", message.secret_text
        )
        raise ProviderError(
            f"webex connect {code}: {name}",
            retryable=code in RETRYABLE,
            exhausted=code in EXHAUSTED,
        )

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        data = json_callback(body)
        notification = data.get("deliveryInfoNotification") if isinstance(data, dict) else None
        info = notification.get("deliveryInfo") if isinstance(notification, dict) else None
        if not isinstance(notification, dict) or not isinstance(info, dict):
            raise ValueError("not a webex connect deliveryInfoNotification")
        transid = notification.get("transid")
        if not transid:
            raise ValueError("webex connect notification without transid")
        status = str(info.get("deliveryStatus", ""))
        if status.lower() in DELIVERED:
            return [DeliveryReport(str(transid), "delivered", status)]
        if status.lower() in UNDELIVERED:
            return [DeliveryReport(str(transid), "undelivered", status)]
        return []  # Submitted and other intermediate states
