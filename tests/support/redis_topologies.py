"""Throwaway Redis Cluster and Sentinel set-ups on loopback, built from `redis-server`
processes (see redis_server.py). Each waits for its topology with a deadline, never forever."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.redis_server import REQUIRE, RedisServer, free_port, start_redis

START_DEADLINE = 20.0


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if REQUIRE:
            pytest.fail(f"{name} is not on PATH and VERIFY_TEST_REQUIRE_REDIS=1")
        pytest.skip(f"{name} is not on PATH (Debian packages redis-server and redis-tools)")
    return path


def cli(port: int, *args: str, timeout: float = 10.0) -> str:
    out = subprocess.run(
        [require_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return out.stdout + out.stderr


def wait_for(what: str, ok: Callable[[], bool], deadline: float = START_DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if ok():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class Cluster:
    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])
        return f"redis+cluster://{seeds}"


@contextmanager
def redis_cluster(primaries: int = 3) -> Iterator[Cluster]:
    """`primaries` nodes, no replicas: enough to spread the 16384 slots over several
    processes, which is what the hash-tag rule has to survive."""
    require_binary("redis-server")
    require_binary("redis-cli")
    nodes: list[RedisServer] = []
    try:
        for _ in range(primaries):
            nodes.append(
                start_redis(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    # the bus port defaults to port + 10000, which may be taken or > 65535
                    "--cluster-port",
                    str(free_port()),
                )
            )
        out = cli(
            nodes[0].port,
            "--cluster",
            "create",
            *(f"127.0.0.1:{n.port}" for n in nodes),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            timeout=30,
        )
        if "[OK] All 16384 slots covered" not in out:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{out}")
        wait_for(
            "cluster_state:ok on every node",
            lambda: all("cluster_state:ok" in cli(n.port, "cluster", "info") for n in nodes),
        )
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()


@dataclass
class SentinelSetup:
    primary: RedisServer
    replica: RedisServer
    sentinel_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    name: str = "verifymaster"

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.name}"

    def master_port(self) -> int | None:
        out = cli(self.sentinel_port, "sentinel", "get-master-addr-by-name", self.name).split()
        return int(out[1]) if len(out) >= 2 and out[1].isdigit() else None


@contextmanager
def redis_sentinel() -> Iterator[SentinelSetup]:
    """A primary, one replica and one sentinel (quorum 1) that monitors them."""
    binary = require_binary("redis-server")
    require_binary("redis-cli")
    primary = start_redis()
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="verify-sentinel-"))
    conf = directory / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor verifymaster 127.0.0.1 {primary.port} 1\n"
        "sentinel down-after-milliseconds verifymaster 1000\n"
        "sentinel failover-timeout verifymaster 10000\n"
    )
    setup = SentinelSetup(primary, replica, port)
    setup.process = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(
            "the replica in sync",
            lambda: "master_link_status:up" in cli(replica.port, "info", "replication"),
        )
        wait_for("the sentinel to know the primary", lambda: setup.master_port() == primary.port)
        wait_for(
            "the sentinel to know the replica",
            lambda: str(replica.port) in cli(port, "sentinel", "replicas", setup.name),
        )
        yield setup
    finally:
        if setup.process.poll() is None:
            setup.process.terminate()
            setup.process.wait(timeout=5)
        replica.stop()
        primary.stop()
