"""Graceful shutdown, as an orchestrator does it: `verify-service serve` in a subprocess,
a request in flight on a slow provider, SIGTERM. The request completes, the provider's
client is closed, the process exits cleanly, and every log line on stderr is JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

SEND_SECONDS = 1.5

# A `slow` provider kind registered before the CLI runs: it marks when a send starts, takes
# SEND_SECONDS, and marks when its client is closed at shutdown.
RUNNER = textwrap.dedent(
    f"""
    import asyncio, os, sys
    from pathlib import Path
    from verify_service.providers import registry
    from verify_service.providers.base import Provider, SendResult

    MARKS = Path(os.environ["SLOW_MARKS"])

    class Slow(Provider):
        kind = "slow"
        async def send(self, message):
            (MARKS / "sending").touch()
            await asyncio.sleep({SEND_SECONDS})
            return SendResult(message_id=message.reference)
        async def aclose(self):
            (MARKS / "closed").touch()

    registry.KINDS["slow"] = Slow
    from verify_service.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def wait_until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    config = tmp_path / "verify.toml"
    config.write_text(
        '[providers.slow]\nkind = "slow"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["slow"]\n'
    )
    port = free_port()
    env = {**os.environ, "K": "shutdown-test-key", "SLOW_MARKS": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health/live", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, 60), "the server did not come up"  # start-up, slow under load

        answers: list[httpx.Response | Exception] = []

        def start() -> None:
            try:
                answers.append(
                    httpx.post(
                        f"{base}/v1/verifications",
                        json={"to": "+41791234567"},
                        headers={"Authorization": "Bearer shutdown-test-key"},
                        timeout=15,
                    )
                )
            except Exception as exc:  # the assertion below reports it
                answers.append(exc)

        client = threading.Thread(target=start)
        client.start()
        assert wait_until(lambda: (tmp_path / "sending").exists(), 10)
        process.send_signal(signal.SIGTERM)
        client.join(timeout=15)
        assert answers, "the request got no answer"
        answer = answers[0]
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 201
        assert answer.json()["status"] == "pending"

        # uvicorn re-raises the signal once it has shut down cleanly: exit status -SIGTERM
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert (tmp_path / "closed").exists(), "provider clients close at shutdown"
        # New connections are refused once shutdown has begun.
        assert not up()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    lines = [line for line in stderr.splitlines() if line.strip()]
    json_lines = []
    for line in lines:
        if line.startswith("{"):
            json_lines.append(json.loads(line))
    assert any(x["logger"].startswith("uvicorn") for x in json_lines), stderr
    assert any(
        x.get("path") == "/v1/verifications" and x.get("status") == 201 for x in json_lines
    ), stderr
    # Everything that went through logging is JSON (the only other lines would be prints).
    assert len(json_lines) == len(lines), stderr
