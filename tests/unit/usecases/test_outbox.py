"""The test outbox: only in test_mode, shared by every worker through the store, capped
and expiring."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from tests.conftest import API_KEY, config
from tests.support.redis_server import BACKENDS, RedisServer
from verify_service.api.app import create_app
from verify_service.config import ConfigError, Settings, settings_from_mapping
from verify_service.store import Store
from verify_service.store.outbox import KEEP_PER_NUMBER, TTL_SECONDS, OutboxStore

TO = "+41791234567"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_capture_provider_without_test_mode_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(config(test_mode=False), environ={})
    message = str(caught.value)
    assert "provider 'capture' is of kind 'capture'" in message
    assert "test_mode = true" in message


def test_test_mode_from_the_environment_allows_capture() -> None:
    data = config()
    del data["test_mode"]
    settings = settings_from_mapping(data, environ={"VERIFY_TEST_MODE": "true"})
    assert settings.test_mode


async def test_without_test_mode_the_route_does_not_exist() -> None:
    data = config(test_mode=False, providers={"console": {"kind": "console"}})
    data["services"][0]["providers"] = ["console"]
    app = create_app(settings_from_mapping(data, environ={}), store=Store.embedded())
    async with AsyncTestClient(app) as client:
        r = await client.get("/v1/test/messages", params={"to": TO}, headers=AUTH)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


@pytest.fixture(params=BACKENDS)
async def two_stores(request: pytest.FixtureRequest) -> tuple[Store, Store]:
    """Two clients on one backend: what two worker processes see."""
    if request.param == "fakeredis":
        server = fakeredis.FakeServer()
        clients = [fakeredis.FakeAsyncRedis(server=server, decode_responses=True) for _ in "ab"]
    else:
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        clients = [aioredis.Redis.from_url(redis_server.url, decode_responses=True) for _ in "ab"]
        await clients[0].flushdb()
    return Store(clients[0]), Store(clients[1])  # each app's lifespan closes its client


async def test_outbox_is_shared_by_workers(
    two_stores: tuple[Store, Store], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    first, second = (create_app(settings, store=s) for s in two_stores)
    async with AsyncTestClient(first) as a, AsyncTestClient(second) as b:
        r = await a.post("/v1/verifications", json={"to": TO}, headers=AUTH)
        assert r.status_code == 201
        await a.post("/v1/verifications", json={"to": TO}, headers=AUTH)  # resend (no cooldown)

        r = await b.get("/v1/test/messages", params={"to": "079 123 45 67"}, headers=AUTH)
        assert r.status_code == 200
        messages = r.json()["messages"]
        assert len(messages) == 2
        assert not second.state.components.providers["capture"].messages  # not b's memory
        assert messages[0]["message_id"].endswith(".2")  # newest first
        assert messages[1]["message_id"].endswith(".1")
        assert {m["to"] for m in messages} == {TO}
        assert all(m["text"].startswith("Your code is ") for m in messages)
        assert all(m["at"].endswith("Z") for m in messages)


async def test_outbox_needs_a_key_and_a_number(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(), store=Store.embedded())
    async with AsyncTestClient(app) as client:
        r = await client.get("/v1/test/messages", params={"to": TO})
        assert r.status_code == 401
        r = await client.get("/v1/test/messages", params={"to": "nonsense"}, headers=AUTH)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_phone_number")
        r = await client.get("/v1/test/messages", headers=AUTH)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_request")
        r = await client.get("/v1/test/messages", params={"to": TO}, headers=AUTH)
        assert r.json() == {"messages": []}


async def test_outbox_is_capped_and_expires(store: Store) -> None:
    outbox = OutboxStore(store.client)
    for n in range(KEEP_PER_NUMBER + 10):
        await outbox.push(TO, {"n": n})
    kept: list[dict[str, Any]] = await outbox.newest_first(TO)
    assert [m["n"] for m in kept] == list(range(KEEP_PER_NUMBER + 9, 9, -1))
    keys = [k async for k in store.client.scan_iter("vs:outbox:*")]
    assert len(keys) == 1
    assert re.fullmatch(r"vs:outbox:\{[0-9a-f]{16}\}", keys[0])  # one hash-tagged key
    assert 0 < await store.client.ttl(keys[0]) <= TTL_SECONDS
    assert await outbox.newest_first("+41790000000") == []


@pytest.mark.system  # runs the CLI in a process of its own
def test_serve_refuses_a_capture_provider_without_test_mode(tmp_path: Path) -> None:
    config_file = tmp_path / "verify.toml"
    config_file.write_text(
        '[providers.capture]\nkind = "capture"\n\n'
        '[[services]]\nname = "app"\nproviders = ["capture"]\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "verify_service", "serve", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "kind 'capture'" in run.stderr
    assert "needs test_mode = true" in run.stderr
