"""Delivery through the API, on both stores: failover, retries, the breaker, refused
numbers, total failure, and the segment cap on templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tests.conftest import API_KEY, config
from tests.support.fake_providers import (
    OK,
    Route,
    ScriptedProvider,
    fake_kinds,
    fake_sms_server,
    refused_number,
    unavailable,
)
from tests.support.helpers import Api, open_api
from verify_service.config import Settings, settings_from_mapping
from verify_service.providers.router import SKIPPED
from verify_service.store import Store, keys

__all__ = ["fake_kinds"]
pytestmark = pytest.mark.usefixtures("fake_kinds")

TO = "+41791234567"
OpenApi = Callable[..., AbstractAsyncContextManager[Api]]


def delivery_settings(providers: dict[str, dict[str, Any]], **service: Any) -> Settings:
    service.setdefault("providers", list(providers))
    return settings_from_mapping(config(providers=providers, service=service), environ={})


@pytest.fixture
def app(store: Store) -> OpenApi:
    def open_(providers: dict[str, dict[str, Any]], **service: Any) -> Any:
        return open_api(delivery_settings(providers, **service), store, API_KEY)

    return open_


@pytest.fixture
async def one_store_app() -> Any:
    """For timing tests, which test the router over HTTP rather than the store: once."""
    store = Store.embedded()
    await store.load_scripts()

    def open_(providers: dict[str, dict[str, Any]], **service: Any) -> Any:
        return open_api(delivery_settings(providers, **service), store, API_KEY)

    return open_


def scripted(api: Api, name: str) -> ScriptedProvider:
    provider = api.components.providers[name]
    assert isinstance(provider, ScriptedProvider)
    return provider


def attempts(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["provider"], a["status"], a["error"]) for a in body["send_attempts"]]


def in_app(api: Api, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a store call on the app's event loop (the test client runs the app in its own
    thread and loop, and Redis connections belong to the loop that opened them)."""
    return api.client.blocking_portal.call(fn, *args)


def redis_keys(api: Api, pattern: str) -> list[str]:
    async def scan() -> list[str]:
        return [k async for k in api.components.store.client.scan_iter(pattern)]

    return sorted(in_app(api, scan))


def stored_hash(api: Api, verification_id: str) -> dict[str, str]:
    tag = keys.tag_of_id(verification_id)
    assert tag is not None
    client = api.components.store.client
    fields: dict[str, str] = in_app(api, client.hgetall, f"{keys.prefix(tag)}:v:{verification_id}")
    return fields


TWO = {"a": {"kind": "scripted", "retries": 0}, "b": {"kind": "scripted", "retries": 0}}


async def test_failover_when_the_first_provider_is_down(app: OpenApi) -> None:
    async with app(TWO) as api:
        scripted(api, "a").plan = [unavailable()]
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        body = r.json()
        assert attempts(body) == [
            ("a", "failed", "HTTP 503: unavailable"),
            ("b", "sent", None),
        ]
        assert body["send_attempts"][1]["message_id"] == "b-1"
        assert body["status"] == "pending"
        code = scripted(api, "b").last_code()
        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["valid"] is True


async def test_retries_are_recorded_one_attempt_each(app: OpenApi) -> None:
    providers = {"a": {"kind": "scripted", "retries": 2}, "b": {"kind": "scripted"}}
    async with app(providers) as api:
        api.components.router.jitter = lambda high: 0.0
        scripted(api, "a").plan = [unavailable(), unavailable(), OK]
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        assert [a[:2] for a in attempts(r.json())] == [
            ("a", "failed"),
            ("a", "failed"),
            ("a", "sent"),
        ]
        assert scripted(api, "b").calls == []


async def test_no_provider_delivers_502_failed_and_no_code_left(app: OpenApi) -> None:
    async with app(TWO) as api:
        scripted(api, "a").default = unavailable()
        scripted(api, "b").default = unavailable()
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 502
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] == "provider_unavailable"
        code = scripted(api, "a").last_code()
        assert code not in r.text

        [key] = redis_keys(api, "vs:*:v:*")
        verification_id = key.rsplit(":", 1)[-1]
        stored = stored_hash(api, verification_id)
        assert stored["st"] == "failed"
        # no hash of an unsent code stays behind (a code is a field `c:<expires_at_ms>`)
        assert not [name for name in stored if name.startswith("c:")]
        assert redis_keys(api, "vs:msg:*") == []

        r = await api.get(f"/v1/verifications/{verification_id}")
        assert r.json()["status"] == "failed"
        assert [a[:2] for a in attempts(r.json())] == [("a", "failed"), ("b", "failed")]

        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["valid"] is False
        assert r.json()["status"] == "failed"

        # A new start begins afresh rather than resending on the failed one.
        scripted(api, "b").default = OK
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201
        assert r.json()["id"] != verification_id


async def test_a_failed_resend_keeps_the_earlier_code(app: OpenApi) -> None:
    async with app(TWO) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        verification_id = r.json()["id"]
        first = scripted(api, "a").last_code()
        scripted(api, "a").default = unavailable()
        scripted(api, "b").default = unavailable()
        r = await api.post("/v1/verifications", {"to": TO})  # a resend that goes nowhere
        assert r.status_code == 502
        unsent = scripted(api, "b").last_code()

        body = (await api.get(f"/v1/verifications/{verification_id}")).json()
        assert body["status"] == "pending"
        assert [a[:2] for a in attempts(body)] == [("a", "sent"), ("a", "failed"), ("b", "failed")]
        if unsent != first:
            r = await api.post("/v1/verifications/check", {"to": TO, "code": unsent})
            assert r.json()["valid"] is False
        r = await api.post("/v1/verifications/check", {"to": TO, "code": first})
        assert (r.json()["valid"], r.json()["status"]) == (True, "approved")


async def test_a_refused_number_is_400_without_failover(app: OpenApi) -> None:
    async with app(TWO) as api:
        scripted(api, "a").plan = [refused_number()]
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_phone_number"
        assert "unknown subscriber" in r.json()["detail"]
        assert scripted(api, "b").calls == []


async def test_breaker_skips_a_dead_provider_without_a_request(app: OpenApi) -> None:
    now = [0.0]
    providers = {
        "a": {"kind": "scripted", "retries": 0, "breaker_threshold": 2, "breaker_cooldown": 5},
        "b": {"kind": "scripted"},
    }
    async with app(providers, max_send_attempts=10) as api:
        api.components.router.clock = lambda: now[0]
        a = scripted(api, "a")
        a.default = unavailable()
        for n in range(3):
            r = await api.post("/v1/verifications", {"to": f"+4179123450{n}"})
            assert r.status_code == 201
        assert len(a.calls) == 2
        assert attempts(r.json()) == [("a", "failed", SKIPPED), ("b", "sent", None)]
        metrics = (await api.client.get("/metrics")).text
        assert 'verify_send_attempts_total{outcome="skipped",provider="a"} 1.0' in metrics

        now[0] += 5  # cool-down over: the next start probes `a`, which has recovered
        a.default = OK
        r = await api.post("/v1/verifications", {"to": "+41791234509"})
        assert attempts(r.json()) == [("a", "sent", None)]
        assert len(a.calls) == 3


# --- over real HTTP, where timing matters (one store: these are about the router) -----------


async def test_timeout_then_failover_answers_within_the_budget(one_store_app: OpenApi) -> None:
    routes = {"/slow": Route(delay=5), "/fast": Route()}
    with fake_sms_server(routes) as server:
        providers = {
            "slow": {
                "kind": "loopback",
                "base_url": server.url("/slow"),
                "timeout": 0.3,
                "retries": 0,
            },
            "fast": {"kind": "loopback", "base_url": server.url("/fast")},
        }
        async with one_store_app(providers, send_budget=2) as api:
            started = time.monotonic()
            r = await api.post("/v1/verifications", {"to": TO})
            elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert 0.3 <= elapsed < 2
    assert [a[:2] for a in attempts(r.json())][-1] == ("fast", "sent")
    assert {a[0] for a in attempts(r.json()) if a[1] == "failed"} == {"slow"}
    assert all(a[2] == "timeout" for a in attempts(r.json()) if a[1] == "failed")
    assert r.json()["send_attempts"][-1]["message_id"] == "fast-1"


async def test_retry_after_longer_than_the_budget_fails_over_at_once(
    one_store_app: OpenApi,
) -> None:
    routes = {"/busy": Route(status=503, headers={"Retry-After": "1"}), "/ok": Route()}
    with fake_sms_server(routes) as server:
        providers = {
            "busy": {"kind": "loopback", "base_url": server.url("/busy"), "retries": 3},
            "ok": {"kind": "loopback", "base_url": server.url("/ok")},
        }
        async with one_store_app(providers, send_budget=0.8) as api:
            started = time.monotonic()
            r = await api.post("/v1/verifications", {"to": TO})
            elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert elapsed < 0.8  # did not wait the second Retry-After asked for
    assert routes["/busy"].hits == 1
    assert attempts(r.json()) == [("busy", "failed", "HTTP 503: refused"), ("ok", "sent", None)]


async def test_retry_after_within_the_budget_is_waited_for(one_store_app: OpenApi) -> None:
    routes = {"/busy": Route(status=503, headers={"Retry-After": "1"})}
    with fake_sms_server(routes) as server:
        providers = {"busy": {"kind": "loopback", "base_url": server.url("/busy"), "retries": 1}}
        async with one_store_app(providers, send_budget=3) as api:
            started = time.monotonic()
            r = await api.post("/v1/verifications", {"to": TO})
            elapsed = time.monotonic() - started
    assert r.status_code == 502
    assert routes["/busy"].hits == 2
    assert 1.0 <= elapsed < 2.0


# --- max_segments ---------------------------------------------------------------------------


async def test_by_default_one_start_costs_at_most_three_sms(app: OpenApi) -> None:
    """Issue 15.6: %TOKEN% x 91 with 12-digit codes was an 8-segment SMS; by default
    (max_segments = 3) it is refused before anything is sent."""
    async with app({"a": {"kind": "scripted"}}) as api:
        body = {"to": TO, "template": "%TOKEN%" * 91, "token_length": 12}
        r = await api.post("/v1/verifications", body)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_template"
        assert "max_segments = 3" in r.json()["detail"]
        assert scripted(api, "a").calls == []
        # 38 codes of 12 digits: 456 GSM-7 characters, three segments, still allowed.
        r = await api.post("/v1/verifications", {**body, "template": "%TOKEN%" * 38})
        assert r.status_code == 201, r.text


async def test_a_request_template_over_the_segment_cap_is_400(app: OpenApi) -> None:
    async with app({"a": {"kind": "scripted"}}, max_segments=1) as api:
        r = await api.post(
            "/v1/verifications", {"to": TO, "template": "Ж" * 64 + " %TOKEN%", "token_length": 6}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_template"
        assert "max_segments" in r.json()["detail"]
        assert scripted(api, "a").calls == []

        r = await api.post("/v1/verifications", {"to": TO, "template": "Ж" * 63 + " %TOKEN%"})
        assert r.status_code == 201, r.text
