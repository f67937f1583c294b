"""`rediss://`: the store over TLS to a real redis-server, with a CA made for the test."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.support.certs import make_certificates
from tests.support.helpers import open_api
from tests.support.redis_server import RedisServer, free_port, start_redis
from verify_service.config import Settings
from verify_service.store import Store

pytestmark = pytest.mark.redis  # a real redis-server with TLS


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, int, Path]]:
    if shutil.which("openssl") is None:  # not part of the Redis requirement of CI
        pytest.skip("openssl is not on PATH (needed to make the test CA)")
    directory = tmp_path_factory.mktemp("tls")
    make_certificates(directory)
    tls_port = free_port()
    server = start_redis(
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(directory / "server.crt"),
        "--tls-key-file", str(directory / "server.key"),
        "--tls-ca-cert-file", str(directory / "ca.crt"),
        "--tls-auth-clients", "no",
    )  # fmt: skip
    yield server, tls_port, directory
    server.stop()


async def test_start_and_check_over_tls(
    tls_redis: tuple[RedisServer, int, Path], make_settings: Callable[..., Settings]
) -> None:
    _, port, directory = tls_redis
    url = f"rediss://localhost:{port}/0?ssl_ca_certs={directory / 'ca.crt'}"
    store = Store.from_url(url)
    async with open_api(make_settings(redis_url=url), store, API_KEY) as api:
        assert (await api.client.get("/health/ready")).status_code == 200
        assert (await api.post("/v1/verifications", {"to": "+41791234567"})).status_code == 201
        code = api.last_code("+41791234567")
        r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": code})
        assert r.json()["valid"] is True


async def test_an_unknown_certificate_authority_is_refused(
    tls_redis: tuple[RedisServer, int, Path],
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, port, _ = tls_redis
    url = f"rediss://localhost:{port}/0"  # the system CAs do not know the test CA
    async with open_api(make_settings(redis_url=url), Store.from_url(url), API_KEY) as api:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="verify_service"):
            r = await api.client.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["code"] == "store_unavailable"
        assert str(port) not in r.text  # the public answer names no internal address
        # the log names the address and the cause, for the operator
        said = " ".join(record.getMessage() for record in caplog.records)
        assert (
            f"Redis at {url} is not reachable: TLS: the server's certificate is not trusted"
        ) in said
