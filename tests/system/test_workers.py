"""`serve --workers 2` on one Redis, as deployed: requests spread over the workers share
the verifications, and /metrics of any worker adds up all of them (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.redis_server import RedisServer, free_port

KEY = "workers-test-key-0123456789"


def pending_started(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "verify_verifications_total" and sample.labels["status"] in (
                "pending",
            ):
                total += sample.value
    return total


def test_two_workers_share_redis_and_metrics(tmp_path: Path, redis_server: RedisServer) -> None:
    config = tmp_path / "verify.toml"
    config.write_text(
        f'redis_url = "{redis_server.url}"\npepper = "env:P"\ntest_mode = true\n'
        "[hashing]\ntime_cost = 1\nmemory_cost_kib = 1024\n"
        '[providers.capture]\nkind = "capture"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["capture"]\n'
        'test_numbers = { "+41790000000" = "123456" }\n'
    )
    port = free_port()
    env = {**os.environ, "P": "p" * 32, "K": KEY}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "verify_service",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "the workers did not come up"
            time.sleep(0.2)
        # New connections each time, so the kernel spreads them over both workers.
        for _ in range(6):
            r = httpx.post(
                f"{base}/v1/verifications", json={"to": "+41790000000"}, headers=auth, timeout=10
            )
            assert r.status_code in (201, 429), r.text
        r = httpx.post(
            f"{base}/v1/verifications/check",
            json={"to": "+41790000000", "code": "123456"},
            headers=auth,
            timeout=10,
        )
        assert r.json()["valid"] is True
        scrapes = [httpx.get(f"{base}/metrics", timeout=5).text for _ in range(4)]
        # Whichever worker answers, it reports the one verification started.
        assert {pending_started(text) for text in scrapes} == {1.0}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
