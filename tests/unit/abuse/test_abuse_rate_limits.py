"""Layered rate limits through HTTP, on fakeredis (memory limiter) and a real redis-server
(limiter in Redis): the N+1th request in a window is 429 `rate_limited` with a Retry-After
that says when the window frees up, and nobody else is affected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.abuse_helpers import GUARD_OFF, Client, only, open_client
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
PROXY = "10.0.0.5"
A, B = "+41791234567", "+41791234568"
BODY_OK = 201


def settings_with(make_settings: MakeSettings, limits: dict[str, Any], **extra: Any) -> Settings:
    return make_settings(
        trusted_proxies=["10.0.0.0/8"],
        service={"rate_limits": limits, "fraud_guard": GUARD_OFF, **extra.pop("service", {})},
        **extra,
    )


async def start(api: Client, to: str, ip: str = "203.0.113.1", key: str | None = None) -> Any:
    return await api.post("/v1/verifications", {"to": to}, key=key, **{"X-Forwarded-For": ip})


def assert_limited(r: Any, layer: str, window_s: int) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["code"] == "rate_limited"
    assert body["limit"] == layer
    retry_after = int(r.headers["retry-after"])
    # The window began with the test's first request: on a loaded CI machine some seconds
    # may pass before the refused one, never more than a small share of the window.
    assert window_s - max(2, min(30, window_s // 10)) <= retry_after <= window_s
    assert body["retry_after"] == retry_after


async def test_per_number_limit(store: Store, make_settings: MakeSettings) -> None:
    settings = settings_with(make_settings, only(per_number=["2/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A)).status_code == BODY_OK
        assert (await start(api, A, ip="203.0.113.2")).status_code == BODY_OK  # a resend
        assert_limited(await start(api, A, ip="203.0.113.3"), "per_number", 600)
        assert (await start(api, B)).status_code == BODY_OK
        assert len(api.sent_to(A)) == 2  # the refused start sent nothing


async def test_per_ip_limit_uses_the_forwarded_address_of_a_trusted_proxy(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_with(make_settings, only(per_ip=["2/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        numbers = [f"+4179123450{i}" for i in range(4)]
        assert (await start(api, numbers[0], ip="203.0.113.1")).status_code == BODY_OK
        assert (await start(api, numbers[1], ip="203.0.113.1")).status_code == BODY_OK
        assert_limited(await start(api, numbers[2], ip="203.0.113.1"), "per_ip", 600)
        # a client cannot escape by prepending an address of its choice
        r = await start(api, numbers[2], ip="198.51.100.1, 203.0.113.1")
        assert_limited(r, "per_ip", 600)
        assert (await start(api, numbers[3], ip="203.0.113.2")).status_code == BODY_OK


async def test_per_ip_limit_ignores_forwarded_for_from_an_untrusted_peer(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_with(make_settings, only(per_ip=["1/10minutes"]))
    async with open_client(settings, store, API_KEY, peer="198.51.100.7") as api:
        assert (await start(api, A, ip="203.0.113.1")).status_code == BODY_OK
        # another X-Forwarded-For, same socket peer: still the same client
        assert_limited(await start(api, B, ip="203.0.113.2"), "per_ip", 600)


async def test_ipv6_clients_are_counted_per_64(store: Store, make_settings: MakeSettings) -> None:
    settings = settings_with(make_settings, only(per_ip=["1/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A, ip="2001:db8:1:2::1")).status_code == BODY_OK
        assert_limited(await start(api, B, ip="2001:db8:1:2::ffff"), "per_ip", 600)
        assert (await start(api, B, ip="2001:db8:1:3::1")).status_code == BODY_OK


async def test_per_country_limit(store: Store, make_settings: MakeSettings) -> None:
    settings = settings_with(make_settings, only(per_country=["2/1hour"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A)).status_code == BODY_OK
        assert (await start(api, B)).status_code == BODY_OK
        assert_limited(await start(api, "+41791234569"), "per_country", 3600)
        assert (await start(api, "+4915123456789")).status_code == BODY_OK  # Germany


async def test_global_send_budget_is_per_service(store: Store, make_settings: MakeSettings) -> None:
    other = {
        "name": "shop",
        "api_keys": [hash_api_key(OTHER_KEY)],
        "providers": ["capture"],
        "template": "Shop code %TOKEN%",
    }
    settings = settings_with(make_settings, only(global_sends=["2/1hour"]), extra_services=[other])
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A)).status_code == BODY_OK
        assert (await start(api, "+4915123456789")).status_code == BODY_OK
        assert_limited(await start(api, "+33612345678"), "global_sends", 3600)
        assert (await start(api, "+33612345678", key=OTHER_KEY)).status_code == BODY_OK


async def test_checks_per_ip(store: Store, make_settings: MakeSettings) -> None:
    settings = settings_with(make_settings, only(checks_per_ip=["3/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        await start(api, A)

        async def check(ip: str) -> Any:
            body = {"to": A, "code": "000000"}
            return await api.post("/v1/verifications/check", body, **{"X-Forwarded-For": ip})

        for _ in range(3):
            assert (await check("203.0.113.9")).status_code == 200
        assert_limited(await check("203.0.113.9"), "checks_per_ip", 600)
        right = await api.post("/v1/verifications/check", {"to": A, "code": api.last_code(A)})
        assert right.json()["valid"] is True  # another client (the peer itself) may check


async def test_layered_windows_the_longest_full_one_sets_retry_after(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = settings_with(make_settings, only(per_number=["5/10minutes", "2/day"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A)).status_code == BODY_OK
        assert (await start(api, A)).status_code == BODY_OK
        assert_limited(await start(api, A), "per_number", 86400)


@pytest.mark.slow  # waits out real windows of 1-3 s
@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window", "sliding-window-counter"])
async def test_the_limit_frees_up_after_the_window(
    store: Store, make_settings: MakeSettings, strategy: str
) -> None:
    limits = {**only(per_number=["2/1second"]), "strategy": strategy}
    settings = settings_with(make_settings, limits)
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        for number in (A, "+41791234570", "+41791234571"):
            if strategy == "fixed-window":
                # Buckets are whole seconds of Redis's clock (this machine's): begin the burst
                # at the start of one, and try again with another number should a slow
                # machine carry it into the next (where the count rightly begins anew).
                await asyncio.sleep(1.01 - time.time() % 1)
            first = time.time()
            assert (await start(api, number)).status_code == BODY_OK
            assert (await start(api, number)).status_code == BODY_OK
            r = await start(api, number)
            if strategy != "fixed-window" or int(time.time()) == int(first):
                break
        # Counted from the refusal's answer, not from before the first start: every hit the
        # window holds happened before it, however slowly a loaded machine ran the starts.
        began = time.monotonic()
        assert r.status_code == 429
        if strategy == "sliding-window-counter":
            # An estimate weighted by what is left of the previous window: Retry-After is
            # a lower bound, and the window is clear for sure two periods later.
            assert r.headers["retry-after"] in ("1", "2")
            await asyncio.sleep(max(0.0, began + 3.05 - time.monotonic()))
        else:
            # exact strategies: Retry-After is a promise, waiting that long is enough
            assert r.headers["retry-after"] == "1"
            await asyncio.sleep(max(0.0, began + 1.05 - time.monotonic()))
        assert (await start(api, number)).status_code == BODY_OK
        assert (await start(api, B)).status_code == BODY_OK


async def test_an_unreachable_redis_is_503_not_500(make_settings: MakeSettings) -> None:
    store = Store.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    settings = settings_with(make_settings, only(per_number=["5/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        r = await start(api, A)
        assert r.status_code == 503
        assert r.json()["code"] == "store_unavailable"
        r = await api.post("/v1/verifications/check", {"to": A, "code": "123456"})
        assert r.status_code == 503


async def test_the_counters_live_in_the_store(store: Store, make_settings: MakeSettings) -> None:
    # The pytest plugin empties the embedded store before each test: the limits go with it.
    settings = settings_with(make_settings, only(per_number=["1/10minutes"]))
    async with open_client(settings, store, API_KEY, peer=PROXY) as api:
        assert (await start(api, A)).status_code == BODY_OK
        assert (await start(api, A)).status_code == 429
        keys = [k async for k in store.client.scan_iter("vs:rl:*")]
        assert keys
        assert all("{" in k for k in keys)  # a Cluster hash tag each
        assert all([await store.client.ttl(k) > 0 for k in keys])
        assert all(A not in k for k in keys)  # no phone numbers in key names
        await store.client.flushall()
        assert (await start(api, A)).status_code == BODY_OK
