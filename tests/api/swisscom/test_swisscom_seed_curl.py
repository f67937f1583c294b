"""Acceptance: the two token-validation `curl` examples of Swisscom's documentation
(seed 000), byte for byte with only the host changed, against the app served by uvicorn on
loopback. Output flags (-s -i) are added; what is sent is the seed's."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from tests.support.redis_server import BACKENDS, RedisServer, free_port
from verify_service.api.app import create_app
from verify_service.config import Settings, hash_api_key
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store

SEED_START = (
    "curl -X POST https://api.swisscom.com/messaging/tokenvalidation -H 'SCS-Version: 2' "
    "-H 'client_id: MyClientID' -H 'Content-Type: application/json' "
    "-H 'Accept: application/json' -H 'SCS-Request-ID: {YourRequestID}' "
    '-d \'{"to":"+41791234567", "text":"Take this token: %TOKEN%", '
    '"tokenType":"SHORT_NUMERIC", "expireTime":120,"tokenLength":6}\''
)
SEED_CHECK = (
    "curl https://api.swisscom.com/messaging/tokenvalidation/{YourMsisdn}/{YourReceivedToken} "
    "-H 'SCS-Version: 2' -H 'client_id: {YourClientID}' -H 'Accept: application/json' "
    "-H 'SCS-Request-ID: {YourRequestID}'"
)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def serve(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def curl(command: str, host: str) -> tuple[int, dict[str, str], bytes]:
    argv = shlex.split(command.replace("https://api.swisscom.com", host))
    # -g: no URL globbing (Swisscom's placeholders use braces); -s -i: quiet, show headers.
    done = subprocess.run(
        [argv[0], "-g", "-s", "-i", *argv[1:]], capture_output=True, timeout=20, check=True
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, headers, body


@pytest.fixture(params=BACKENDS)
def app_url(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Iterator[tuple[str, CaptureProvider]]:
    settings = make_settings(service={"api_keys": [hash_api_key("MyClientID")]})
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        store = Store.from_url(server.url)
    else:
        store = Store.embedded()
    app = create_app(settings, store=store)
    capture = app.state.components.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    for url in serve(app):
        yield url, capture


def test_seed_curl_examples(app_url: tuple[str, CaptureProvider]) -> None:
    host, capture = app_url
    status, headers, body = curl(SEED_START, host)
    assert status == 201
    assert body == b""
    assert headers["scs-request-id"] == "{YourRequestID}"
    [sent] = capture.sent_to("+41791234567")
    assert sent.text.startswith("Take this token: ")
    code = sent.text.removeprefix("Take this token: ")
    assert len(code) == 6
    assert code.isdigit()

    def check(token: str) -> tuple[int, bytes]:
        command = (
            SEED_CHECK.replace("{YourMsisdn}", "+41791234567")
            .replace("{YourReceivedToken}", token)
            .replace("{YourClientID}", "MyClientID")
        )
        status, headers, body = curl(command, host)
        assert headers["content-type"].startswith("application/json")
        assert headers["scs-request-id"] == "{YourRequestID}"
        return status, body

    wrong = "000000" if code != "000000" else "111111"
    assert check(wrong) == (200, b'{"validation":"FAILED"}')
    assert check(code) == (200, b'{"validation":"SUCCESS"}')
    assert check(code) == (200, b'{"validation":"FAILED"}')  # used once
