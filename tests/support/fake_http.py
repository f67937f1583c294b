"""The one fake HTTP server of the tests: a `http.server` in a thread on a free loopback port.

Whatever fakes a remote party (an SMS provider's API, Swisscom's Messaging API, a
customer's webhook receiver) builds on it: it gets a handler per route, or one handler for
every path, that turns the request as it arrived on the wire (`Recorded`) into a `Reply`.
A test can queue scripted replies (errors, delays) that are served first. Every request is
recorded. Handlers run one at a time (under the server's lock), so a fake's state needs no
locking of its own; a reply's delay is waited out after that, so slow answers overlap."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: httpx.Headers  # case-insensitive; keys() are lower-case
    body: bytes
    client_port: int = 0  # tells connections apart: keep-alive reuses one
    header_names: tuple[str, ...] = ()  # lower-case, repeats kept
    target: str = ""  # the request line's target as sent: path and query string

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, to run into the client's timeout

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        if self.json is None:
            return self.body, dict(self.headers)
        return json.dumps(self.json).encode(), {"Content-Type": "application/json", **self.headers}


Handler = Callable[[Recorded], Reply]
# "POST /send" (method and path) or "/send" (any method) -> its handler; others get a 404.
Routes = Mapping[str, Handler]

NOT_FOUND = Reply(404, body=b"no such route on the fake server")


class FakeServer:
    def __init__(self, handler: Handler | Routes) -> None:
        self.handler: Handler = handler if callable(handler) else _router(handler)
        self.requests: list[Recorded] = []
        self._scripted: deque[Reply] = deque()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for one, and every test stops a server.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def last(self) -> Recorded:
        assert self.requests, "the fake server got no request"
        return self.requests[-1]

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then the handler again."""
        self._scripted.extend(replies)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases delayed replies at once
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._scripted:
                return self._scripted.popleft()
            return self.handler(recorded)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real providers do

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers=httpx.Headers(list(self.headers.items())),
                    body=body,
                    client_port=self.client_address[1],
                    header_names=tuple(k.lower() for k in self.headers),
                    target=self.path,
                )
                reply = server._answer(recorded)
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                content, headers = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return RequestHandler


def _router(routes: Routes) -> Handler:
    def route(request: Recorded) -> Reply:
        handler = routes.get(f"{request.method} {request.path}") or routes.get(request.path)
        return handler(request) if handler else NOT_FOUND

    return route


def refused_url() -> str:
    """An address where nothing listens: a port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
