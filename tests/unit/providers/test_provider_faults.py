"""Provider faults over loopback HTTP: a provider that hangs, resets the connection, answers
garbage, dribbles its answer or sends nonsense JSON. Every send ends within its timeout with
a clear error; failover reaches the next provider; with none left the caller gets 502
`provider_unavailable` and the verification is `failed`."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from tests.conftest import API_KEY
from tests.support.helpers import open_api
from verify_service.config import Settings
from verify_service.providers import registry
from verify_service.providers.base import OutgoingMessage, ProviderError, SendResult
from verify_service.providers.http.base import HttpProvider, status_error
from verify_service.store import Store

TIMEOUT = 0.5
SLACK = 1.0  # scheduling on a loaded 2-core machine
FAULTS: Counter[str] = Counter()


class LoopbackProvider(HttpProvider):
    """A minimal HTTP provider: POST {to, text} to <base_url>/send, answer {"id": ...}."""

    kind: ClassVar[str] = "test_loopback"

    async def send(self, message: OutgoingMessage) -> SendResult:
        response = await self.request(
            "POST", f"{self.base_url}/send", json={"to": message.to, "text": message.text}
        )
        if response.status_code != 200:
            raise status_error(response, "refused")
        try:
            return SendResult(message_id=str(response.json()["id"]))
        except (ValueError, KeyError, TypeError):
            raise ProviderError("unreadable answer", retryable=True) from None


class FaultyHandler(socketserver.BaseRequestHandler):
    """Speaks just enough HTTP/1.1 to misbehave in the way the path asks for."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1].decode()
        mode = path.strip("/").split("/")[0]
        FAULTS[mode] += 1
        if mode == "hang":
            time.sleep(TIMEOUT * 4)
        elif mode == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "garbage":
            sock.sendall(b"\x00\xff\xfe not http at all\r\n\r\n")
        elif mode == "slow":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
            for _ in range(40):  # each byte well inside the read timeout, the whole far beyond
                time.sleep(TIMEOUT / 3)
                try:
                    sock.sendall(b" ")
                except OSError:
                    return
        elif mode == "badjson":
            body = b"<html>ok</html>"
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif mode == "error":
            sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        else:
            body = json.dumps({"id": "msg-1"}).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def faulty_base() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), FaultyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def loopback_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.KINDS, LoopbackProvider.kind, LoopbackProvider)


def provider(base: str, mode: str) -> LoopbackProvider:
    return LoopbackProvider.from_config(  # type: ignore[return-value]
        mode, {"kind": "test_loopback", "base_url": f"{base}/{mode}", "timeout": TIMEOUT}
    )


MESSAGE = OutgoingMessage(to="+41791234567", text="Your code is 123456", reference="ver_x.1")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "timeout"),
        ("slow", "timeout"),
        ("reset", "network error"),
        ("garbage", "network error"),
        ("badjson", "unreadable answer"),
        ("error", "HTTP 503"),
    ],
)
async def test_each_fault_ends_in_time_with_a_clear_error(
    faulty_base: str, mode: str, reason: str
) -> None:
    p = provider(faulty_base, mode)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as failure:
            await p.send(MESSAGE)
    finally:
        await p.aclose()
    assert time.monotonic() - started < TIMEOUT + SLACK
    assert failure.value.reason.startswith(reason)
    assert failure.value.retryable
    assert "123456" not in failure.value.reason  # the code never ends up in an error


def settings_with(make_settings: Callable[..., Settings], base: str, *modes: str) -> Settings:
    return make_settings(
        providers={
            # No retries: each fault shows once in send_attempts (retries are the router's
            # business and tested there); the time bounds below then hold per provider.
            mode: {
                "kind": "test_loopback",
                "base_url": f"{base}/{mode}",
                "timeout": TIMEOUT,
                "retries": 0,
            }
            for mode in modes
        },
        service={"providers": list(modes)},
    )


async def test_failover_passes_every_faulty_provider(
    store: Store, make_settings: Callable[..., Settings], faulty_base: str
) -> None:
    faulty = ("hang", "reset", "garbage", "slow", "badjson")
    settings = settings_with(make_settings, faulty_base, *faulty, "ok")
    async with open_api(settings, store, API_KEY) as api:
        started = time.monotonic()
        r = await api.post("/v1/verifications", {"to": "+41791234567"})
        elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text
    attempts = r.json()["send_attempts"]
    assert [a["provider"] for a in attempts] == [*faulty, "ok"]
    assert [a["status"] for a in attempts] == ["failed"] * len(faulty) + ["sent"]
    assert all(a["error"] for a in attempts[:-1])
    assert elapsed < len(faulty) * TIMEOUT + SLACK * 2


async def test_no_provider_left_is_502_and_a_failed_verification(
    store: Store, make_settings: Callable[..., Settings], faulty_base: str
) -> None:
    settings = settings_with(make_settings, faulty_base, "hang", "reset")
    async with open_api(settings, store, API_KEY) as api:
        started = time.monotonic()
        r = await api.post("/v1/verifications", {"to": "+41791234567"})
        elapsed = time.monotonic() - started
        assert r.status_code == 502
        problem: dict[str, Any] = r.json()
        assert problem["code"] == "provider_unavailable"
        assert "hang: timeout" in problem["detail"]
        assert "reset: network error" in problem["detail"]
        assert elapsed < 2 * TIMEOUT + SLACK * 2
        r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": "123456"})
        assert r.json()["status"] == "failed"
