"""`serve --workers N` on one Redis, as deployed: requests spread over the workers share
the verifications, /metrics of any worker adds up all of them (multiprocess mode), and
connections opened all at once reach every worker (one SO_REUSEPORT socket each)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.redis_server import RedisServer, free_port
from verify_service.listeners import reuse_port_supported

KEY = "workers-test-key-0123456789"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
        stop(process)


async def burst(port: int, connections: int, requests: int) -> int:
    """Open `connections` keep-alive connections at once, then send `requests` requests on
    each; the 200s."""

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ok = 0
        try:
            for _ in range(requests):
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                ok += head.startswith(b"HTTP/1.1 200")
        finally:
            writer.close()
        return ok

    return sum(await asyncio.gather(*(one() for _ in range(connections))))


def requests_per_worker(directory: Path, scratch: Path) -> dict[int, float]:
    """verify_http_requests_total of /health/live, read from each worker's own file of
    prometheus_client's multiprocess directory (counter_<pid>.db)."""
    counts: dict[int, float] = {}
    for db in directory.glob("counter_*.db"):
        pid = int(db.stem.split("_")[1])
        alone = scratch / str(pid)
        alone.mkdir(parents=True)
        shutil.copy(db, alone / db.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[pid] = sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "verify_http_requests_total"
            and sample.labels.get("route") == "/health/live"
        )
    return counts


@pytest.mark.slow
@pytest.mark.skipif(not reuse_port_supported(), reason="SO_REUSEPORT balancing is Linux's")
def test_a_burst_of_connections_reaches_every_worker(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    workers, connections = 4, 64
    config = tmp_path / "verify.toml"
    config.write_text(
        f'redis_url = "{redis_server.url}"\npepper = "env:P"\ntest_mode = true\n'
        '[providers.capture]\nkind = "capture"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["capture"]\n'
    )
    metrics = tmp_path / "metrics"
    port = free_port()
    env = {**os.environ, "P": "p" * 32, "K": KEY, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "verify_service", "serve", "--config", str(config),
             "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < workers:
            assert process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "not every worker came up"
            time.sleep(0.3)
        listening = [
            c
            for c in psutil.Process(process.pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert len(listening) == workers  # one socket per worker, all on the one port
        assert asyncio.run(burst(port, connections, 3)) == connections * 3
        # A worker counts a request once its response is sent, so the last counts may land
        # a moment after the client has read every response: read until all are there.
        deadline = time.monotonic() + 20
        attempt = 0
        while True:
            attempt += 1
            served = requests_per_worker(metrics, tmp_path / f"counts-{attempt}")
            if sum(served.values()) >= connections * 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(served.values()) == connections * 3, served
        # 64 connections hashed over 4 sockets: a socket gets none with p = 4 * (3/4)^64 < 1e-7
        assert len([n for n in served.values() if n > 0]) == workers, served
    finally:
        stop(process)
