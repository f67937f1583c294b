"""Shared fixtures.

`store` runs each test twice: on the embedded fakeredis and on a real throwaway
`redis-server` (skipped when the binary is missing, unless VERIFY_TEST_REQUIRE_REDIS=1).
`make_settings` builds a config with a `capture` provider and a known API key.

Markers (registered in pyproject.toml; `make test-fast` deselects all three): `redis` for
tests on a real redis-server, `system` for tests/system, `slow` for tests that take seconds
by design. The first two are set here where the folder or a fixture says it; a test that
starts a redis-server without the mark fails (tests/support/redis_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import settings as hypothesis_settings

from tests.support import redis_server as redis_servers
from tests.support.redis_server import BACKENDS, RedisServer, start_redis
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import Settings, hash_api_key, settings_from_mapping
from verify_service.domain import hashing
from verify_service.store import Store, keys

# Hypothesis's per-example deadline (200 ms) measures the machine, not the property: on a
# loaded CI machine an example that starts a request or a Redis round trip can exceed it and
# fail a test whose property holds. Properties are checked; speed is measured in bench/.
hypothesis_settings.register_profile("verify", deadline=None)
hypothesis_settings.load_profile("verify")

MakeVerifs = Callable[..., Components]

API_KEY = "test-key-login-0123456789"
OTHER_KEY = "test-key-other-0123456789"
PEPPER = "test-pepper-0123456789abcdef"
# What keys the verification tags of apps built from `config()` (no id_key: the pepper's).
TAG_KEY = keys.tag_key(PEPPER.encode())
# Cheap hashing in tests: the parameters are the config's, the behaviour is the same.
FAST_HASHING = {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1}

SYSTEM = Path(__file__).parent / "system"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(SYSTEM):
            item.add_marker(pytest.mark.system)
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    redis_servers.current_test = item


def pytest_runtest_teardown(item: pytest.Item) -> None:
    redis_servers.current_test = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "fakeredis":
        s = Store.embedded()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = aioredis.Redis.from_url(server.url, decode_responses=True)
        await client.flushdb()
        s = Store(client)
    await s.load_scripts()
    yield s
    await s.aclose()


def config(**overrides: Any) -> dict[str, Any]:
    """A config mapping as a TOML file would give it; `service` overrides the first service."""
    service = {
        "name": "login",
        "api_keys": [hash_api_key(API_KEY)],
        "providers": ["capture"],
        "template": "Your code is %TOKEN%",
        "templates": {"de": "Ihr Code: %TOKEN%"},
        "resend_cooldown": 0,
        # Tests start sequential numbers and rarely approve them: a pumping list to the
        # guard. Off unless a test asks for it (tests/unit/abuse/test_fraud_guard.py).
        "fraud_guard": {"enabled": False},
        **overrides.pop("service", {}),
    }
    data: dict[str, Any] = {
        "pepper": PEPPER,
        "test_mode": True,
        "hashing": FAST_HASHING,
        "providers": {"capture": {"kind": "capture"}},
        "services": [service, *overrides.pop("extra_services", [])],
        **overrides,
    }
    return data


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return settings_from_mapping(config(**overrides), environ={})

    return make


@pytest.fixture
def make_verifs(store: Store, make_settings: Callable[..., Settings]) -> MakeVerifs:
    """The use cases without HTTP, on `store`, with a config as `make_settings` builds it."""

    def make(**overrides: Any) -> Components:
        return build_components(make_settings(**overrides), store)

    return make


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per argon2 run, by whatever hashes or checks a code."""
    runs: list[int] = []
    real = hashing.hash_secret

    def counting(*args: Any, **kwargs: Any) -> bytes:
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashing, "hash_secret", counting)
    return runs


@pytest.fixture
async def api(store: Store, make_settings: Callable[..., Settings]) -> AsyncIterator[Any]:
    """The app with the default test config, on both stores."""
    from tests.support.helpers import open_api

    async with open_api(make_settings(), store, API_KEY) as a:
        yield a
