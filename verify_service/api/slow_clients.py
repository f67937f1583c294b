"""A bound on the time a client may take to send a request (its head and body), enforced by
the HTTP server itself.

uvicorn bounds no such time: `timeout_keep_alive` only runs between requests on a kept-alive
connection, and the head of a request is read before the app is called, so no ASGI
middleware sees a client that sends one header line every few seconds (slowloris). 400
such connections were held open for 45 s and more. This is uvicorn's httptools protocol
with one timer per request: armed when the connection opens and when a request's first
byte arrives, disarmed when its body is complete. A client still sending when it fires
gets 408 (if its head is not complete yet) and the connection is closed; the app's
`receive` then reports a disconnect.

`verify-service serve` uses it (`--request-timeout`, default REQUEST_TIMEOUT). Behind a
reverse proxy, the proxy's own timeouts bound the client instead (deploy/nginx.conf)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Seconds from the connection (or a request's first byte) to the end of the request body.
# A request is at most 16 KiB of headers and 16 KiB of body (256 KiB for delivery reports):
# a client that needs longer is either broken or holding the connection on purpose.
REQUEST_TIMEOUT = 10.0

_TIMEOUT_BODY = b"the request was not sent in time"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _TIMEOUT_BODY
)


class RequestTimeoutProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes a connection whose request is not complete within
    `request_timeout` seconds."""

    def __init__(self, *args: Any, request_timeout: float = REQUEST_TIMEOUT, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._request_timeout = request_timeout
        self._request_timer: asyncio.TimerHandle | None = None
        self._head_done = False

    def _arm(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(self._request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        # A 408 only where no response of an earlier request is still being written.
        if not self._head_done and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that sends nothing at all is bounded too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_done = False
        self._arm()

    def on_headers_complete(self) -> None:
        self._head_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def protocol(request_timeout: float = REQUEST_TIMEOUT) -> Any:
    """What to give uvicorn as `http=`: a factory of RequestTimeoutProtocol with this bound
    (a partial of a module-level class, so that it reaches `--workers` processes)."""
    return functools.partial(RequestTimeoutProtocol, request_timeout=request_timeout)
