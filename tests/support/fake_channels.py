"""Loopback fakes (on tests/support/fake_http.py) of the APIs the channels beyond SMS use:
Webex Connect's Send Message API v1 for WhatsApp, the websms Messaging API (OAuth client
credentials + WhatsApp sends), and a voice/TTS API driven through the generic `http` kind.
Each answers as its documentation says, errors included."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from tests.support.fake_http import Recorded, Reply

# -- Webex Connect, WhatsApp (developers.webexconnect.io "WhatsApp", template messages) --
WEBEX_KEY = "webex-service-key"
WEBEX_APP = "wa-app-1"
WEBEX_TRANSID = "7f1e2d3c-0000-4000-8000-00000000wa01"


def _webex_error(code: str, description: str) -> Reply:
    return Reply(200, json={"response": {"code": code, "description": description, "transid": "t"}})


def webex_whatsapp_api(req: Recorded) -> Reply:
    """One message per request: a template (`message.template` + `parameters`) or free
    text (`channels["OTT-Messaging"].wa.text.body`) to `destination[0].waid[0]`."""
    if (req.method, req.path) != ("POST", "/resources/v1/messaging"):
        return Reply(404)
    if req.headers.get("key") != WEBEX_KEY:
        return _webex_error("7001", "Authentication failed.")
    try:
        body = req.json()
    except ValueError:
        return _webex_error("7000", "Invalid JSON")
    if body.get("deliverychannel") != "whatsapp":
        return _webex_error("7004", "Invalid parameter: deliverychannel")
    waid = (body.get("destination") or [{}])[0].get("waid")
    if not body.get("appid") or not waid or not str(waid[0]).isdigit():
        return _webex_error("7003", "Mandatory parameter missing.")
    template = body.get("message", {})
    text = body.get("channels", {}).get("OTT-Messaging", {}).get("wa", {}).get("text", {})
    if not (template.get("template") and template.get("parameters")) and not text.get("body"):
        return _webex_error("7003", "Mandatory parameter missing.")
    return Reply(200, json={"response": [{"code": "1001", "transid": WEBEX_TRANSID,
                                          "description": "Queued"}]})  # fmt: skip


def webex_whatsapp_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "webex_connect",
        "base_url": url,
        "service_key": WEBEX_KEY,
        "whatsapp_app_id": WEBEX_APP,
        "whatsapp_template": "otp_auth",
        **extra,
    }


# -- websms Messaging API (developer.websms.com/messenger-api.html) ---------------------
WEBSMS_CLIENT = "client-1"
WEBSMS_SECRET = "websms-client-secret-0123"
NO_DEVICE = "+41790000032"  # the fake answers 4032 NO_DEVICE_ENABLED for this one
DISABLED = "+41790000033"  # ... and 4033 WHATSAPP_DISABLED for this one


class WebsmsMessaging:
    """The auth host and the API host in one fake: tokens that expire after `lifetime`
    seconds (or are revoked by `revoke()`), and the two WhatsApp send endpoints."""

    def __init__(self, lifetime: int = 300) -> None:
        self.lifetime = lifetime
        self.valid: set[str] = set()
        self._ids = itertools.count(1)
        self.tokens_issued = 0

    def revoke(self) -> None:
        self.valid.clear()

    def __call__(self, req: Recorded) -> Reply:
        if (req.method, req.path) == ("POST", "/oauth/token"):
            return self._token(req)
        if req.method == "POST" and req.path in (
            "/messaging/whatsapp/send_text",
            "/messaging/whatsapp/send_template",
        ):
            return self._send(req)
        return Reply(404)

    def _token(self, req: Recorded) -> Reply:
        basic = base64.b64encode(f"{WEBSMS_CLIENT}:{WEBSMS_SECRET}".encode()).decode()
        if req.headers.get("authorization") != f"Basic {basic}":
            return Reply(401, json={"error": "invalid_client"})
        form = req.form()
        if form.get("grant_type") != "client_credentials" or "messaging:whatsapp" not in form.get(
            "scope", ""
        ):
            return Reply(400, json={"error": "invalid_request"})
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid.add(token)
        return Reply(200, json={"access_token": token, "token_type": "bearer",
                                "expires_in": self.lifetime})  # fmt: skip

    def _send(self, req: Recorded) -> Reply:
        auth = req.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid:
            return Reply(401)
        body = req.json()
        recipient = str(body.get("recipient", ""))
        if not recipient.isdigit():
            return Reply(400, json={"statusCode": 4002, "statusMessage": "invalid recipient"})
        if "+" + recipient == NO_DEVICE:
            return Reply(403, json={"statusCode": 4032, "statusMessage": "No device enabled"})
        if "+" + recipient == DISABLED:
            refusal = {"statusCode": 4033, "statusMessage": "Not allowed to send whatsapp messages"}
            return Reply(403, json=refusal)
        if req.path.endswith("send_template") and not (
            body.get("templateName") and body.get("parameters")
        ):
            return Reply(400, json={"statusCode": 4019, "statusMessage": "templateName"})
        if req.path.endswith("send_text") and not body.get("text"):
            return Reply(400, json={"statusCode": 4019, "statusMessage": "text"})
        return Reply(200, json={"statusCode": 2000, "statusMessage": "OK",
                                "messageId": f"wa-{next(self._ids)}"})  # fmt: skip


def websms_whatsapp_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "websms_whatsapp",
        "base_url": url,
        "auth_url": f"{url}/oauth/token",
        "client_id": WEBSMS_CLIENT,
        "client_secret": WEBSMS_SECRET,
        "template": "otp_auth",
        **extra,
    }


# -- a voice (text-to-speech call) API through the generic http kind ---------------------
VOICE_TOKEN = "voice-api-token-0123456789"


def voice_api(req: Recorded) -> Reply:
    """`POST /calls {"to", "say", "repeat"}` -> 201 {"call": {"id"}}; 422 for a number it
    cannot call."""
    if (req.method, req.path) != ("POST", "/calls"):
        return Reply(404)
    if req.headers.get("authorization") != f"Bearer {VOICE_TOKEN}":
        return Reply(401, json={"error": "unauthorized"})
    body = req.json()
    if not str(body.get("to", "")).startswith("+") or not body.get("say"):
        return Reply(422, json={"error": "cannot call this number"})
    return Reply(201, json={"call": {"id": f"call-{len(body['say'])}"}})


def voice_config(url: str) -> dict[str, Any]:
    return {
        "kind": "http",
        "url": f"{url}/calls",
        "body": {"to": "{to}", "say": "{text}", "language": "en"},
        "auth": {"type": "bearer", "token": VOICE_TOKEN},
        "success_status": [201],
        "recipient_invalid_status": [422],
        "message_id_field": "call.id",
    }
