"""A local fake of Swisscom's Messaging API (seed 000) on the loopback fake server
(tests/support/fake_http.py), for adapter tests.

It checks the headers Swisscom requires, answers with Swisscom's status codes and error
bodies, and really does token validation: it generates a token of the requested type and
length, substitutes it into the text, keeps it, and validates it — with no attempt limit of
its own, so that tests can see that ours is what holds."""

from __future__ import annotations

import json
import secrets
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_http import FakeServer, Recorded, Reply

ALPHABETS = {
    "SHORT_NUMERIC": string.digits,
    "SHORT_ALPHANUMERIC": string.ascii_uppercase + string.digits,
    "SHORT_SMALL_AND_CAPITAL": string.ascii_letters + string.digits,
    "LONG_CRYPTIC": string.ascii_letters + string.digits,
}
CODES = {
    400: "INVALID_REQUEST",
    401: "INVALID_AUTHENTICATION_CREDENTIALS",
    403: "FORBIDDEN_RESOURCE",
    404: "INVALID_REQUEST_RESOURCE",
    405: "INVALID_REQUEST_METHOD",
    406: "INVALID_HEADER_ACCEPT",
    429: "EXPIRED_QUOTA",
    500: "INTERNAL_SERVER_ERROR",
    503: "UNAVAILABLE_SERVICE",
}


@dataclass
class Seen:
    method: str
    path: str
    headers: Mapping[str, str]  # case-insensitive
    body: Any  # the JSON, None when there is none


@dataclass
class Fault:
    status: int
    detail: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSwisscom:
    client_id: str = "fake-client-id"
    requests: list[Seen] = field(default_factory=list)
    outbox: list[tuple[str, str]] = field(default_factory=list)  # (to, text) as "sent"
    tokens: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)  # answered next, one per request
    id_header: str = "Location"  # or "SCS-MessageId"
    unknown_token_status: int = 200  # 200 FAILED, or 404
    _server: FakeServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self) -> FakeSwisscom:
        self._server = FakeServer(self._handle).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def last_token_text(self, to: str) -> str:
        texts = [text for number, text in self.outbox if number == to]
        assert texts, f"the fake sent nothing to {to}"
        return texts[-1]

    def calls(self, method: str, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # --- the API -------------------------------------------------------------------------

    def _handle(self, request: Recorded) -> Reply:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        self.requests.append(Seen(request.method, request.path, request.headers, body))
        status, payload, headers = self._answer(request, body)
        return Reply(status, json=payload, headers=headers)

    def _error(self, status: int, detail: str = "", headers: dict[str, str] | None = None) -> Any:
        body = {"status": str(status), "code": CODES[status], "message": "fake", "detail": detail}
        return status, body, headers or {}

    def _answer(self, req: Recorded, body: Any) -> tuple[int, Any, dict[str, str]]:
        if req.headers.get("client_id") != self.client_id:
            return self._error(401)
        if req.headers.get("SCS-Version") != "2":
            return self._error(400, "SCS-Version must be 2")
        if req.headers.get("Accept") != "application/json":
            return self._error(406)
        if self.faults:
            fault = self.faults.pop(0)
            return self._error(fault.status, fault.detail, fault.headers)
        path = req.path
        if req.method == "POST":
            if req.headers.get("Content-Type") != "application/json" or not isinstance(body, dict):
                return self._error(400, "body must be JSON")
            if path == "/messaging/sms":
                return self._sms(body)
            if path == "/messaging/tokenvalidation":
                return self._token_start(body)
            return self._error(404)
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["messaging", "tokenvalidation"]:
            return self._token_check(parts[3], parts[4])
        return self._error(404)

    def _sms(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        to, text = body.get("to"), body.get("text")
        if not isinstance(to, str) or not to.startswith("+") or not to[1:].isdigit():
            return self._error(400, "Invalid 'to' parameter: not a valid msisdn")
        if not isinstance(text, str) or not text:
            return self._error(400, "Missing text")
        self.outbox.append((to, text))
        message_id = uuid.uuid4().hex
        if self.id_header == "Location":
            return 201, None, {"Location": f"{self.url}/messaging/sms/{message_id}"}
        return 201, None, {"SCS-MessageId": message_id}

    def _token_start(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        to, text = body.get("to"), body.get("text")
        kind, length, expire = (
            body.get("tokenType"),
            body.get("tokenLength"),
            body.get("expireTime"),
        )
        if not isinstance(to, str) or not to.startswith("+") or not to[1:].isdigit():
            return self._error(400, "Invalid 'to' parameter: not a valid msisdn")
        if not isinstance(text, str) or "%TOKEN%" not in text:
            return self._error(400, "text must contain %TOKEN%")
        if kind not in ALPHABETS:
            return self._error(400, "unknown tokenType")
        if not isinstance(length, int) or not 1 <= length <= 12:
            return self._error(400, "tokenLength must be 1-12")
        if not isinstance(expire, int) or not 0 <= expire <= 86400:
            return self._error(400, "expireTime must be 0-86400")
        if kind == "LONG_CRYPTIC":
            length = 32
        token = "".join(secrets.choice(ALPHABETS[kind]) for _ in range(length))
        self.tokens.setdefault(to, []).append((token, time.monotonic() + expire))
        self.outbox.append((to, text.replace("%TOKEN%", token)))
        return 201, None, {}

    def _token_check(self, msisdn: str, token: str) -> tuple[int, Any, dict[str, str]]:
        to = "+41" + msisdn[1:] if msisdn.startswith("0") and msisdn[1:2] != "0" else msisdn
        to = "+" + to[2:] if to.startswith("00") else to
        now = time.monotonic()
        for kept, until in self.tokens.get(to, []):
            if kept == token and now < until:
                self.tokens[to].remove((kept, until))  # a token validates once
                return 200, {"validation": "SUCCESS"}, {}
        if self.unknown_token_status == 404:
            return self._error(404)
        return 200, {"validation": "FAILED"}, {}
