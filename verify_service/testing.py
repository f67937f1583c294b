"""pytest plugin (entry point `pytest11`): verify-service inside the test process, so that
an application's login-flow tests need no network, no Redis and no SMS.

Fixtures (no conftest import needed once verify-service is installed):

- `verify_service`: a running service (embedded store, `capture` provider, test_mode) on
  a free loopback port, emptied before each test. `.url`, `.api_key`, `.client()`,
  `.async_client()`, `.messages(to)`, `.last_message(to)`, `.last_code(to)`. While the test
  runs, VERIFY_URL and VERIFY_API_KEY point at it, so `VerifyClient()` in the application
  code under test finds it without wiring.
- `verify_client`: a `VerifyClient` connected to it, closed after the test.
- `verify_service_config`: override it (any scope) to shape the service: top-level
  config keys, plus `service` = keys of the one service (template, templates,
  webotp_domain, token_type, resend_cooldown, test_numbers ...), plus `api_key` = the
  plaintext key the service accepts (default API_KEY).

Without a port: `asgi_service()` runs the app on an httpx transport inside the test's own
event loop, for async tests (see README, "For app developers").

Heavy imports (litestar, uvicorn, fakeredis) wait until a fixture is used: this module is
imported by every pytest run in an environment where verify-service is installed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from verify_service.client import AsyncVerifyClient, OutboxMessage, VerifyClient

if TYPE_CHECKING:
    from litestar import Litestar

    from verify_service.config import Settings

# The names an application's tests may import (pinned by
# tests/unit/client/test_exported_members.py); the fixtures reach them through the plugin.
__all__ = [
    "API_KEY",
    "AsgiService",
    "RunningService",
    "asgi_service",
    "extract_code",
    "run_service",
    "service_config",
    "verify_client",
    "verify_service",
    "verify_service_config",
]

API_KEY = "vs-test-key-do-not-use-in-production"
PEPPER = "vs-test-pepper-not-a-secret"
# The cheapest argon2id the config accepts: tests check behaviour, not hashing cost.
FAST_HASHING = {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1}
DEFAULT_TEMPLATE = "Your code is %TOKEN%"
START_TIMEOUT = 10.0  # seconds for the in-thread server to come up

_WEBOTP_LINE = re.compile(r"^@\S+ #(?P<code>[A-Za-z0-9]+)(?: @\S+)?$")
_CODE_GROUP = "(?P<code>[A-Za-z0-9]+)"


def service_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config mapping (as a TOML file would give it) of the test service: one service
    `app` with a capture provider, test_mode on, embedded store, the key API_KEY."""
    overrides = dict(overrides or {})
    overrides.pop("api_key", None)
    service = {
        "name": "app",
        "providers": ["capture"],
        "template": DEFAULT_TEMPLATE,
        **overrides.pop("service", {}),
    }
    return {
        "pepper": PEPPER,
        "hashing": FAST_HASHING,
        "providers": {"capture": {"kind": "capture"}},
        **overrides,
        "test_mode": True,
        "services": [service],
    }


def _settings(overrides: Mapping[str, Any] | None) -> tuple[Settings, str]:
    from verify_service.config import hash_api_key, settings_from_mapping

    api_key = str((overrides or {}).get("api_key") or API_KEY)
    data = service_config(overrides)
    data["services"][0].setdefault("api_keys", [hash_api_key(api_key)])
    # environ={}: the developer's own VERIFY_* variables must not leak into the test service.
    return settings_from_mapping(data, environ={}), api_key


def extract_code(text: str, templates: Sequence[str] = ()) -> str:
    """The code in a message: from a WebOTP last line, else by matching one of the
    service's templates, else the last run of 4-12 digits."""
    last_line = text.rstrip().rsplit("\n", 1)[-1]
    webotp = _WEBOTP_LINE.match(last_line)
    if webotp:
        return webotp["code"]
    for template in templates:
        first, *rest = (re.escape(part) for part in template.rstrip().split("%TOKEN%"))
        if not rest:
            continue
        # "A %TOKEN% B %TOKEN% C" -> A (?P<code>..) B (?P=code) C: every occurrence agrees.
        found = re.match(first + _CODE_GROUP + "(?P=code)".join(rest), text)
        if found:
            return found["code"]
    digits = re.findall(r"(?<![0-9])[0-9]{4,12}(?![0-9])", text)
    if digits:
        return str(digits[-1])
    raise AssertionError(f"no code found in the message {text!r}")


@dataclass
class RunningService:
    """A verify-service an application's tests talk to over HTTP."""

    url: str
    api_key: str
    settings: Settings
    _reset: Callable[[], None] = field(repr=False)

    @property
    def env(self) -> dict[str, str]:
        """What the application reads: VERIFY_URL and VERIFY_API_KEY."""
        return {"VERIFY_URL": self.url, "VERIFY_API_KEY": self.api_key}

    def client(self, **kwargs: Any) -> VerifyClient:
        return VerifyClient(self.url, self.api_key, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncVerifyClient:
        return AsyncVerifyClient(self.url, self.api_key, **kwargs)

    def messages(self, to: str) -> list[OutboxMessage]:
        """What was "sent" to `to`, newest first (through GET /v1/test/messages)."""
        with self.client() as client:
            return client.test_messages(to)

    def last_message(self, to: str) -> str:
        messages = self.messages(to)
        if not messages:
            raise AssertionError(f"no message was sent to {to}")
        return messages[0].text

    def last_code(self, to: str) -> str:
        return extract_code(self.last_message(to), _templates_of(self.settings))

    def reset(self) -> None:
        """Forget every verification, limit and message (the fixture does it per test)."""
        self._reset()


def _templates_of(settings: Settings) -> list[str]:
    service = settings.services[0]
    return [*service.templates.values(), service.template]


def _build_app(overrides: Mapping[str, Any] | None) -> tuple[Litestar, Settings, str, Any]:
    import fakeredis

    from verify_service.api.app import create_app
    from verify_service.store import Store

    settings, api_key = _settings(overrides)
    # Our own FakeServer, so that reset() can empty it from the test's thread (it locks).
    server = fakeredis.FakeServer()
    store = Store(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    return create_app(settings, store=store), settings, api_key, server


def _resetter(app: Litestar, server: Any) -> Callable[[], None]:
    import fakeredis

    from verify_service.providers.kinds.capture import CaptureProvider

    def reset() -> None:
        fakeredis.FakeRedis(server=server).flushall()
        for provider in app.state.components.providers.values():
            if isinstance(provider, CaptureProvider):
                provider.messages.clear()

    return reset


@contextmanager
def run_service(overrides: Mapping[str, Any] | None = None) -> Iterator[RunningService]:
    """Serve the test service with uvicorn on 127.0.0.1 (a free port) in a thread.
    Usable outside pytest too, e.g. for a dev script."""
    import uvicorn

    app, settings, api_key, server = _build_app(overrides)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="verify-service-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            uv.should_exit = True
            raise RuntimeError("the test verify-service did not start (see the log above)")
        time.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningService(f"http://127.0.0.1:{port}", api_key, settings, _resetter(app, server))
    finally:
        uv.should_exit = True
        thread.join(START_TIMEOUT)


@dataclass
class AsgiService:
    """The app on an in-memory transport: no port, no thread; async clients only."""

    http: httpx.AsyncClient
    api_key: str
    settings: Settings

    def client(self) -> AsyncVerifyClient:
        """Shares this service's transport; closing it leaves the service running."""
        return AsyncVerifyClient(api_key=self.api_key, http_client=self.http)

    async def messages(self, to: str) -> list[OutboxMessage]:
        return await self.client().test_messages(to)

    async def last_code(self, to: str) -> str:
        messages = await self.messages(to)
        if not messages:
            raise AssertionError(f"no message was sent to {to}")
        return extract_code(messages[0].text, _templates_of(self.settings))


@asynccontextmanager
async def asgi_service(overrides: Mapping[str, Any] | None = None) -> AsyncIterator[AsgiService]:
    """`async with asgi_service() as svc:` a fresh service inside the current event loop."""
    from litestar.testing import AsyncTestClient

    app, settings, api_key, _ = _build_app(overrides)
    async with AsyncTestClient(app, base_url="http://verify-service.test") as http:
        yield AsgiService(http, api_key, settings)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def verify_service_config() -> dict[str, Any]:
    """Override in a conftest.py (session scope) to configure the test service."""
    return {}


class _Servers:
    """One running service per distinct config, started on first use, for the session."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._running: dict[str, RunningService] = {}

    def get(self, config: Mapping[str, Any]) -> RunningService:
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in self._running:
            self._running[key] = self._stack.enter_context(run_service(config))
        return self._running[key]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def _verify_service_servers() -> Iterator[_Servers]:
    # Servers live for the session (starting uvicorn per test would cost more than the
    # tests); keyed by config so that a module overriding verify_service_config gets its own.
    servers = _Servers()
    yield servers
    servers.close()


@pytest.fixture
def verify_service(
    _verify_service_servers: _Servers,
    verify_service_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> RunningService:
    service = _verify_service_servers.get(verify_service_config)
    service.reset()
    for name, value in service.env.items():
        monkeypatch.setenv(name, value)
    return service


@pytest.fixture
def verify_client(verify_service: RunningService) -> Iterator[VerifyClient]:
    with verify_service.client() as client:
        yield client
