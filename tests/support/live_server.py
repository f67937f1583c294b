"""The app under a real uvicorn on a loopback port, in a thread.

For tests that need what the in-process client cannot give: truly concurrent requests
(litestar's test client runs one request at a time) and the HTTP server's own limits."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from tests.support.redis_server import free_port


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until_live(url: str, process: subprocess.Popen[Any], seconds: float = 30) -> None:
    """Until `url` + /health/live answers (a server started as `process`, or a proxy in
    front of one); AssertionError when `process` exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{url}/health/live", timeout=1)
            return
        except httpx.HTTPError:
            assert process.poll() is None, f"{process.args!r} exited"
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.05)
