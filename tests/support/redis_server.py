"""A throwaway `redis-server` on a free loopback port, for tests against the real thing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE = os.environ.get("VERIFY_TEST_REQUIRE_REDIS") == "1"

# The params of a fixture that runs its tests on both backends: the real one is marked, so
# that `-m "not redis"` keeps the fakeredis half.
BACKENDS = ["fakeredis", pytest.param("redis", marks=pytest.mark.redis)]

# The test being set up (tests/conftest.py sets it): a test that starts a redis-server
# without the `redis` mark would skip silently in `make test-fast`; it fails instead.
current_test: pytest.Item | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str | None:
    path = shutil.which("redis-server")
    if path is None:
        if REQUIRE:
            pytest.fail("redis-server is not on PATH and VERIFY_TEST_REQUIRE_REDIS=1")
        pytest.skip("redis-server is not on PATH (install the Debian package redis-server)")
    return path


@dataclass
class RedisServer:
    port: int
    directory: Path
    args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if current_test is not None and current_test.get_closest_marker("redis") is None:
            pytest.fail(f"{current_test.nodeid} starts a redis-server: mark it pytest.mark.redis")
        binary = redis_binary()
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def start_redis(*args: str) -> RedisServer:
    directory = Path(tempfile.mkdtemp(prefix="verify-redis-"))
    return RedisServer(free_port(), directory, args).start()
