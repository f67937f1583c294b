"""Twilio's official Python SDK against our app served by a real uvicorn on loopback.

The SDK is used unchanged; only its HTTP client rewrites `https://verify.twilio.com` to the
local server, which is exactly what a user does by changing the base URL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from litestar import Litestar
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from verify_service.providers.kinds.capture import CaptureProvider

TWILIO_VERIFY = "https://verify.twilio.com"


class LocalHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=10)
        self.base_url = base_url
        self.urls: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        # Every call must have been meant for Twilio: proves nothing bypasses the rewrite.
        # A list's `next_page_url` is ours already (absolute, as Twilio's): followed as is.
        if url.startswith(self.base_url + "/v2/"):
            url = TWILIO_VERIFY + url.removeprefix(self.base_url)
        assert url.startswith(TWILIO_VERIFY + "/v2/"), url
        local = self.base_url + url.removeprefix(TWILIO_VERIFY)
        self.urls.append(local)
        return super().request(method, local, *args, **kwargs)


@dataclass
class LocalServer:
    app: Litestar
    base_url: str

    def client(self, account_sid: str, auth_token: str) -> Client:
        return Client(account_sid, auth_token, http_client=LocalHttpClient(self.base_url))

    def last_code(self, to: str) -> str:
        capture = self.app.state.components.providers["capture"]
        assert isinstance(capture, CaptureProvider)
        sent = capture.sent_to(to)
        assert sent, f"nothing was sent to {to}"
        return sent[-1].text.rsplit(" ", 1)[-1]


@contextmanager
def serve(app: Litestar) -> Iterator[LocalServer]:
    """uvicorn in a thread on a socket bound here, so the port is ours before it starts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LocalServer(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
