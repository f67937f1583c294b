"""Fake provider APIs, each answering as its documentation (seeds 001-004) says: the
credentials, paths and body shapes it checks, and its success answer. Tests script the
error answers on top."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

from tests.support.fake_http import Recorded, Reply

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# -- websms (seed 002) ------------------------------------------------------------------
WEBSMS_TOKEN = "websms-token"
WEBSMS_USER, WEBSMS_PASSWORD = "user", "pa:ss"
WEBSMS_TRANSFER_ID = "0052c4b1000b3a9d0b21"
UNREACHABLE = "+41790000001"  # a number the fake networks know to be unassigned


def websms_status(code: int, message: str = "") -> Reply:
    body = {"statusCode": code, "statusMessage": message, "transferId": None, "smsCount": 0}
    return Reply(200, json={**body, "clientMessageId": None})


def websms_api(req: Recorded) -> Reply:
    if (req.method, req.path) != ("POST", "/rest/smsmessaging/text"):
        return Reply(404)
    basic = base64.b64encode(f"{WEBSMS_USER}:{WEBSMS_PASSWORD}".encode()).decode()
    if req.headers.get("authorization") not in (f"Bearer {WEBSMS_TOKEN}", f"Basic {basic}"):
        return Reply(401)  # documented: no body
    if not req.headers.get("content-type", "").startswith("application/json"):
        return websms_status(4019, "content type")
    body = req.json()
    recipients = body.get("recipientAddressList")
    if not recipients or not all(type(r) is int for r in recipients):
        return websms_status(4002, "One or more recipients are not in the correct format")
    if int(UNREACHABLE[1:]) in recipients:
        return websms_status(4002, "One or more recipients are containing invalid MSISDNs")
    if not isinstance(body.get("messageContent"), str):
        return websms_status(4019, "messageContent")
    return Reply(
        200,
        json={
            "statusCode": 2000,
            "statusMessage": "Request accepted, Message(s) sent.",
            "transferId": WEBSMS_TRANSFER_ID,
            "clientMessageId": body.get("clientMessageId"),
            "smsCount": 1,
        },
    )


def websms_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "websms", "base_url": f"{url}/rest", "access_token": WEBSMS_TOKEN, **extra}


# -- Swift SMS Gateway (seed 001) -------------------------------------------------------
SWIFT_KEY = "ABC123"
SWIFT_ID = "01JDQ02MQ543RTQBT08WY88589"


def swift_result(error_code: str, to: str = "41791234567", origin_id: str = "") -> dict[str, Any]:
    return {
        "direction": "OUTBOUND",
        "error_code": error_code,
        "from": "12003004000",
        "id": SWIFT_ID,
        "origin_id": origin_id,
        "parts": [{"id": "01JDQ02H94HEWKPK0VMJPY9N3H"}],
        "status": "NEW",
        "to": to,
        "type": "SMS",
    }


def swift_api(req: Recorded) -> Reply:
    if (req.method, req.path) != ("POST", "/v1/sms"):
        return Reply(404)
    if req.headers.get("authorization") != f"Bearer {SWIFT_KEY}":
        return Reply(401, json={"error": "unauthorized"})
    body = req.json()
    text, to = body.get("body"), body.get("to")
    if not isinstance(text, str) or not 1 <= len(text) <= 4096 or not isinstance(to, list):
        return Reply(422, json={"results": [swift_result("INVALID_REQUEST")]})
    results = [
        swift_result("OK" if E164.match(n) else "INVALID_TO", n.lstrip("+"), body.get("id", ""))
        for n in to
    ]
    ok = sum(r["error_code"] == "OK" for r in results)
    return Reply(200 if ok == len(results) else 207 if ok else 422, json={"results": results})


def swift_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "swift", "base_url": url, "api_key": SWIFT_KEY, **extra}


# -- Webex Connect (seed 003) -----------------------------------------------------------
WEBEX_KEY = "webex-service-key"
WEBEX_TRANSID = "3f09295d-9xx3-4x8x-4xx5-a3272e5f00c1"


def webex_error(code: str, description: str) -> Reply:
    return Reply(200, json={"response": {"code": code, "description": description, "transid": "t"}})


def webex_api(req: Recorded) -> Reply:
    if (req.method, req.path) != ("POST", "/resources/v1/messaging"):
        return Reply(404)
    if "key" not in req.headers:
        return webex_error("7002", "Service key missing.")
    if req.headers["key"] != WEBEX_KEY:
        return webex_error("7001", "Authentication failed.")
    try:
        body = req.json()
    except ValueError:
        return webex_error("7000", "Invalid JSON")
    sms = body.get("channels", {}).get("sms", {})
    destination = body.get("destination")
    if body.get("deliverychannel") != "sms" or not destination or not sms.get("text"):
        return webex_error("7003", "Mandatory parameter missing.")
    if not sms.get("senderid"):
        return webex_error("7003", "Mandatory parameter missing.")
    numbers = [n for d in destination for n in d.get("msisdn", [])]
    if not numbers or not all(E164.match(n) for n in numbers):
        return webex_error("7004", "Invalid parameter.")
    if sms.get("type", "1") not in ("1", "4"):
        return webex_error("7004", "Invalid parameter.")
    return Reply(
        200,
        json={"response": [{"code": "1001", "transid": WEBEX_TRANSID, "description": "Queued"}]},
    )


def webex_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "webex_connect",
        "base_url": url,
        "service_key": WEBEX_KEY,
        "sender_id": "VERIFY",
        **extra,
    }


# -- SMSFactor (seed 004) ---------------------------------------------------------------
SMSFACTOR_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.test"
SMSFACTOR_TICKET = "14672468"


def smsfactor_answer(status: int, **counters: int) -> Reply:
    if status != 1:
        return Reply(200, json={"status": status, "message": "Error", "details": ""})
    body = {"status": 1, "message": "OK", "ticket": SMSFACTOR_TICKET, "cost": 1, "credits": 642}
    counts = {"total": 1, "sent": 1, "blacklisted": 0, "duplicated": 0, "invalid": 0, "npai": 0}
    return Reply(200, json={**body, **counts, **counters})


def smsfactor_api(req: Recorded) -> Reply:
    if req.method != "POST" or req.path not in ("/send", "/send/simulate"):
        return Reply(404)
    if req.headers.get("accept") != "application/json":
        # documented: XML unless JSON is asked for
        return Reply(200, body=b"<response><status>1</status></response>")
    if req.headers.get("authorization") != f"Bearer {SMSFACTOR_TOKEN}":
        return Reply(401, json={"status": -1, "message": "Authentication error"})
    try:
        body = req.json()
        text = body["sms"]["message"]["text"]
        numbers = [r["value"] for r in body["sms"]["recipients"]["gsm"]]
    except (ValueError, KeyError, TypeError):
        return Reply(200, json={"status": -6, "message": "JSON error"})
    if not isinstance(text, str) or not numbers:
        return Reply(200, json={"status": -7, "message": "Data error"})
    if not all(n.isdigit() for n in numbers):  # "+41…" is not a number SMSFactor takes
        return smsfactor_answer(1, sent=0, invalid=len(numbers))
    return smsfactor_answer(1)


def smsfactor_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "smsfactor", "base_url": url, "token": SMSFACTOR_TOKEN, **extra}


# -- a user's own endpoint, for the generic `http` kind ---------------------------------
def endpoint_api(req: Recorded) -> Reply:
    if req.path != "/sms":
        return Reply(404)
    return Reply(202, json={"data": {"id": "m-42", "state": "queued"}})


def http_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "http",
        "url": f"{url}/sms",
        "body": {"to": "{to}", "text": "{text}", "ref": "{reference}"},
        "message_id_field": "data.id",
        **extra,
    }


SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def verify_standard_webhook(req: Recorded, secret: str) -> bool:
    """What a receiver does, per the Standard Webhooks spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, ts = req.headers["webhook-id"], req.headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return False
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + req.body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        hmac.compare_digest(sig.removeprefix("v1,"), expected)
        for sig in req.headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


# Every kind with its documented fake and a config pointing at it: for shared behaviour.
KINDS = {
    "websms": (websms_api, websms_config),
    "swift": (swift_api, swift_config),
    "webex_connect": (webex_api, webex_config),
    "smsfactor": (smsfactor_api, smsfactor_config),
    "http": (endpoint_api, http_config),
}
