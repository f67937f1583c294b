"""A fake SMS provider for the benchmark: accepts `POST /sms` JSON {to, text} and lets the
load generator read the last text per number with `GET /last?to=…`. Raw ASGI, so that the
fake costs as little CPU as possible next to the service it measures."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_last: dict[str, str] = {}
_count = 0


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    global _count
    if scope["type"] != "http":
        return
    if scope["method"] == "POST" and scope["path"] == "/sms":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.loads(body)
        _last[data["to"]] = data["text"]
        _count += 1
        await _reply(send, 200, json.dumps({"id": f"m{_count}"}).encode())
    elif scope["method"] == "GET" and scope["path"] == "/last":
        to = parse_qs(scope["query_string"].decode()).get("to", [""])[0]
        text = _last.get(to)
        if text is None:
            await _reply(send, 404, b"{}")
        else:
            await _reply(send, 200, json.dumps({"text": text}).encode())
    else:
        await _reply(send, 404, b"{}")
