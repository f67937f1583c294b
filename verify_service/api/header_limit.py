"""Header size limit, enforced by the app itself: uvicorn's default parser (httptools)
accepts headers of any size, and a request that carries 200 KiB of headers to obtain a
one-time code is abuse. A reverse proxy in front should cap them earlier still."""

from __future__ import annotations

import json

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from verify_service.api.native.problems import PROBLEM_JSON, TYPE_BASE
from verify_service.domain.errors import ERRORS

MAX_HEADER_BYTES = 16 * 1024
_CODE = "request_header_fields_too_large"


def header_limit(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                status, title = ERRORS[_CODE]
                body = json.dumps(
                    {
                        "type": TYPE_BASE + _CODE,
                        "title": title,
                        "status": status,
                        "detail": f"the request headers exceed {MAX_HEADER_BYTES} bytes",
                        "code": _CODE,
                    }
                ).encode()
                start: HTTPResponseStartEvent = {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
                end: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": body,
                    "more_body": False,
                }
                await send(start)
                await send(end)
                return
        await app(scope, receive, send)

    return middleware
