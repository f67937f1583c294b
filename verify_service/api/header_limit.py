"""Header size limit, enforced by the app itself: uvicorn's default parser (httptools)
accepts headers of any size, and a request that carries 200 KiB of headers to obtain a
one-time code is abuse. A reverse proxy in front should cap them earlier still.

A Litestar middleware, so it runs once the route is known: the 431 is raised, and the
route's own handlers answer it in the dialect of the path (problem+json, Twilio's or
Swisscom's error body). An unknown path is answered 404 before this runs."""

from __future__ import annotations

from itertools import chain

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 16 * 1024


def header_limit(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            headers = list(scope["headers"])
            # each line: name, ": ", value, CRLF
            size = sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)
            if size > MAX_HEADER_BYTES:
                raise HTTPException(
                    status_code=431,
                    detail=f"the request headers exceed {MAX_HEADER_BYTES} bytes",
                )
        await app(scope, receive, send)

    return middleware
