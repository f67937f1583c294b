"""What an operator sees: /metrics after real flows, the JSON logs (with nothing secret in
them), request ids, readiness and the metrics token."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import API_KEY, PEPPER
from tests.support.helpers import Api, open_api
from tests.support.redis_server import free_port
from verify_service.config import Settings
from verify_service.config.secrets import secrets_of
from verify_service.observability.logs import configure_logging
from verify_service.providers import registry
from verify_service.providers.base import (
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.store import Store

TO = "+41791234567"
LEAKY_SECRET = "leaky-provider-secret-7f3a9c"
METRICS_TOKEN = "metrics-token-0123456789"


class LeakyOptions(ProviderOptions):
    api_key: str


class LeakyProvider(Provider):
    """A badly written adapter: its errors quote the message (code included) and its key.
    The central filter must catch what adapters get wrong."""

    kind = "leaky"
    Options: ClassVar[type[ProviderOptions]] = LeakyOptions

    async def send(self, message: OutgoingMessage) -> SendResult:
        key = self.options.api_key  # type: ignore[attr-defined]
        raise ProviderError(
            f"upstream refused text={message.text!r} to={message.to} key={key}", retryable=True
        )


class CrashingProvider(Provider):
    kind = "crashing"

    async def send(self, message: OutgoingMessage) -> SendResult:
        raise RuntimeError(f"bug while sending {message.text} to {message.to}")


@pytest.fixture
def leaky_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.KINDS, "leaky", LeakyProvider)
    monkeypatch.setitem(registry.KINDS, "crashing", CrashingProvider)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], leaky_kinds: None) -> Settings:
    return make_settings(
        metrics_token=METRICS_TOKEN,
        providers={
            "leaky": {"kind": "leaky", "api_key": LEAKY_SECRET, "retries": 0},
            "capture": {"kind": "capture"},
        },
        service={
            "providers": ["leaky", "capture"],
            "allowed_countries": ["CH"],
            "max_check_attempts": 2,
            "test_numbers": {"+41790000000": "424242"},
        },
    )


@pytest.fixture
async def ops_api(store: Store, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(settings, store, API_KEY) as api:
        yield api


@pytest.fixture
def captured_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Every record of every logger, as the production handler writes it."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = configure_logging(level="DEBUG", secrets=secrets_of(settings), stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def run_flows(api: Api, store: Store) -> dict[str, str]:
    """Start, wrong and right checks, a lockout, an expiry, a refused country, a test
    number; returns the codes that went out."""
    codes = {}
    r = await api.post("/v1/verifications", {"to": TO})
    assert r.status_code == 201, r.text
    codes["approved"] = code = api.last_code(TO)
    wrong = "000000" if code != "000000" else "111111"
    await api.post("/v1/verifications/check", {"to": TO, "code": wrong})
    r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
    assert r.json()["status"] == "approved"

    locked = "+41791112233"
    await api.post("/v1/verifications", {"to": locked})
    codes["locked"] = api.last_code(locked)
    for _ in range(2):
        await api.post("/v1/verifications/check", {"to": locked, "code": wrong})

    expiring = "+41794445566"
    await api.post("/v1/verifications", {"to": expiring})
    codes["expired"] = api.last_code(expiring)
    store.clock_offset_ms = 3600 * 1000
    r = await api.post("/v1/verifications/check", {"to": expiring, "code": codes["expired"]})
    assert r.json()["status"] == "expired"
    store.clock_offset_ms = 0

    r = await api.post("/v1/verifications", {"to": "+4915112345678"})
    assert r.status_code == 403

    await api.post("/v1/verifications", {"to": "+41790000000"})
    r = await api.post("/v1/verifications/check", {"to": "+41790000000", "code": "424242"})
    assert r.json()["valid"] is True
    return codes


async def test_metrics_after_flows_count_with_the_right_labels(ops_api: Api, store: Store) -> None:
    await run_flows(ops_api, store)
    assert (await ops_api.client.get("/metrics")).status_code == 401
    r = await ops_api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    m = samples(r.text)
    v = "verify_verifications_total"
    common = {"service": "login", "country": "CH"}
    assert value(m, v, **common, provider="capture", status="pending") == 3
    assert value(m, v, **common, provider="test_number", status="pending") == 1
    assert value(m, v, **common, provider="capture", status="approved") == 1
    assert value(m, v, **common, provider="test_number", status="approved") == 1
    assert value(m, v, **common, provider="capture", status="max_attempts_reached") == 1
    assert value(m, v, **common, provider="capture", status="expired") == 1

    assert value(m, "verify_checks_total", service="login", outcome="invalid") == 3
    assert value(m, "verify_checks_total", service="login", outcome="valid") == 2
    assert value(m, "verify_checks_total", service="login", outcome="expired") == 1

    sends = "verify_send_attempts_total"
    assert value(m, sends, provider="leaky", outcome="retryable_error") == 3
    assert value(m, sends, provider="capture", outcome="sent") == 3
    latency = "verify_send_duration_seconds_count"
    assert value(m, latency, provider="capture", outcome="sent") == 3
    assert value(m, latency, provider="leaky", outcome="retryable_error") == 3

    assert (
        value(
            m,
            "verify_blocks_total",
            service="login",
            reason="country_not_in_allowed_countries",
            country="DE",
        )
        == 1
    )
    route = "/v1/verifications/check"
    assert value(m, "verify_http_requests_total", method="POST", route=route, status="200") == 6
    assert value(m, "verify_http_requests_total", method="GET", route="/metrics", status="401") == 1


async def test_metrics_are_open_without_a_token(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    async with open_api(make_settings(), store, API_KEY) as api:
        r = await api.client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 200  # nothing to check against: open by configuration


async def test_logs_are_json_and_hold_no_code_key_secret_or_full_number(
    ops_api: Api, store: Store, captured_logs: io.StringIO, settings: Settings
) -> None:
    codes = await run_flows(ops_api, store)
    await ops_api.post("/v1/verifications/check", {"to": TO, "code": "98765432"})
    r = await ops_api.client.post(
        "/v1/verifications", json={"to": TO}, headers={"Authorization": "Bearer wrong-key-123456"}
    )
    assert r.status_code == 401
    output = captured_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) > 10

    for secret in [*codes.values(), "98765432", "424242", API_KEY, "wrong-key-123456"]:
        assert secret not in output
    for secret in [LEAKY_SECRET, PEPPER, METRICS_TOKEN]:
        assert secret not in output
    for number in [TO, TO[1:], "+41791112233", "+41794445566", "+4915112345678"]:
        assert number not in output

    requests = [line for line in lines if line["logger"] == "verify_service.http"]
    start = next(x for x in requests if x["method"] == "POST" and x["status"] == 201)
    assert start["path"] == "/v1/verifications"
    assert start["service"] == "login"
    assert start["request_id"].startswith("req_")
    assert isinstance(start["duration_ms"], float)
    failed_sends = [x for x in lines if x["msg"].startswith("send failed")]
    assert failed_sends, "each send attempt is logged"
    assert all(x["provider"] == "leaky" and "request_id" in x for x in failed_sends)
    assert "*******567" in output  # the last digits stay, for support


async def test_a_crash_logs_a_scrubbed_traceback(
    store: Store, make_settings: Callable[..., Settings], leaky_kinds: None
) -> None:
    settings = make_settings(
        providers={"crashing": {"kind": "crashing"}}, service={"providers": ["crashing"]}
    )
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    handler = configure_logging(level="INFO", secrets=secrets_of(settings), stream=stream)
    try:
        async with open_api(settings, store, API_KEY) as api:
            r = await api.post("/v1/verifications", {"to": TO})
    finally:
        root.removeHandler(handler)
        root.handlers[:] = saved
    # the router fails over past a crashing adapter (no provider left: 502), logging the bug
    assert r.status_code == 502
    output = stream.getvalue()
    assert "RuntimeError: bug while sending Your code is [redacted]" in output
    assert TO not in output
    assert re.search(r"Your code is \d", output) is None


async def test_request_id_is_taken_or_made_and_returned(api: Api) -> None:
    r = await api.client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await api.client.get("/health/live", headers={"SCS-Request-ID": "scs-42"})
    assert r.headers["scs-request-id"] == "scs-42"
    assert r.headers["x-request-id"] == "scs-42"
    r = await api.client.get("/nowhere")
    assert r.status_code == 404
    assert r.headers["x-request-id"].startswith("req_")
    r = await api.client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"].startswith("req_")


async def test_ready_is_503_when_the_store_is_down(make_settings: Callable[..., Settings]) -> None:
    dead = Store.from_url(f"redis://127.0.0.1:{free_port()}/0")
    async with open_api(make_settings(), dead, API_KEY) as api:
        assert (await api.client.get("/health/live")).status_code == 200
        r = await api.client.get("/health/ready")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "store_unavailable"


async def test_ready_names_no_internal_host_publicly_but_logs_why(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """/health/ready is public (load balancers probe it without credentials): its 503 says
    that the store is down, while the address and the cause go to the operator's log."""
    port = free_port()
    url = f"redis://:hunter2-secret@127.0.0.1:{port}/0"
    async with open_api(make_settings(redis_url=url), Store.from_url(url), API_KEY) as api:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="verify_service"):
            answers = [await api.client.get("/health/ready") for _ in range(3)]
    for r in answers:
        assert r.status_code == 503
        assert r.json()["code"] == "store_unavailable"
        assert "127.0.0.1" not in r.text
        assert str(port) not in r.text
        assert "redis://" not in r.text
        assert "hunter2" not in r.text
    said = [rec.getMessage() for rec in caplog.records if "not reachable" in rec.getMessage()]
    # the diagnosis, once per outage rather than once per probe
    assert len(said) == 1, said
    where = f"Redis at redis://:***@127.0.0.1:{port}/0 is not reachable: connection refused"
    assert where in said[0]
    assert all("hunter2" not in rec.getMessage() for rec in caplog.records)


async def test_ready_loads_the_scripts_when_redis_comes_up_late(
    make_settings: Callable[..., Settings], redis_server: Any
) -> None:
    store = Store.from_url(redis_server.url)
    async with open_api(make_settings(redis_url=redis_server.url), store, API_KEY) as api:
        store.scripts_loaded = False  # as if Redis had been down during start-up
        assert (await api.client.get("/health/ready")).status_code == 200
        assert store.scripts_loaded
