"""What abuse protection costs in Redis commands, counted by the server (MONITOR): one
EVALSHA for all rate-limit windows of a request (a read and a write per counted subject
inside it, and a TTL where one must move, however many windows and whatever the limits),
one for the pumping guard, and nothing else."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from tests.support.helpers import sent_code
from tests.support.monitor import monitored
from tests.support.redis_server import RedisServer
from verify_service.abuse.policy import AbusePolicy
from verify_service.api.app import build_components
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.domain.phones import parse_phone
from verify_service.store import Store

TO = "+41791234567"


class _Quiet:
    def blocked(self, service: str, reason: str, country: str) -> None:
        raise AssertionError(f"refused: {reason}")

    def fraud_guard_tripped(self, service: str, country: str, level: str) -> None:
        raise AssertionError("tripped")

    def fraud_operator_action(self, service: str, action: str, country: str) -> None:
        raise AssertionError("operator action")


async def test_default_policy_commands_per_start_and_check(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    limits = {"checks_per_ip": ["30/minute"]}  # defaults plus one window on checks
    settings = make_settings(service={"rate_limits": limits, "fraud_guard": {}})  # guard on
    verifs = build_components(settings, store)
    service = verifs.settings.services[0]
    # once through each path first: scripts load on their first use (NOSCRIPT, SCRIPT LOAD)
    await verifs.verifications.start(service, StartParams(to="+41791234500"))
    code = sent_code(verifs, "+41791234500")
    await verifs.verifications.check(service, to="+41791234500", code=code, client_ip="203.0.113.9")
    async with monitored(redis_server.url, client) as log:
        commands_of = log.commands_of
        # one chain (the pumping guard, the rate limits with all layers in one part, the
        # start itself), then one more (the send outcome, the attempt log's records, the
        # message-id index)
        started = await commands_of(
            verifs.verifications.start(service, StartParams(to=TO, client_ip="203.0.113.1"))
        )
        assert started == ["EVALSHA"] * 2
        code = sent_code(verifs, TO)
        # checks_per_ip, reserve, then one chain: the approval, the pumping guard's count
        # of it, the attempt log's conversion
        check = verifs.verifications.check(service, to=TO, code=code, client_ip="203.0.113.1")
        assert await commands_of(check) == ["EVALSHA"] * 3

    await store.aclose()


async def test_the_rate_limit_call_does_constant_work_per_layer(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """Inside the one call: TIME, one HMGET per layer, then one HSET per layer, with a
    PEXPIRE where the key's TTL must move: a layer with a moving window (every count), or
    with a counter starting a bucket (a new key here); the same for a budget of a million
    as for one of ten (no list walked). A layer of counters alone counting again in its
    bucket sets no TTL."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    # the middle of an hour on the store's clock: both starts count in one bucket
    hour = 3_600_000
    offset = hour // 2 - int(time.time() * 1000) % hour
    store = Store(client, clock_offset_ms=offset)
    await store.load_scripts()
    limits = {"per_country": ["1000000/hour"], "global_sends": ["10/hour", "1000000/day"]}
    settings = make_settings(service={"rate_limits": limits, "fraud_guard": {}})  # guard on
    service = settings.services[0]
    policy = AbusePolicy(settings, store, _Quiet())
    number = parse_phone(TO, "CH")
    layers = 3  # per_number, per_country, global_sends
    counted = []
    for _ in range(2):
        async with monitored(redis_server.url, client) as log:
            inside = await log.commands_of(policy.before_send(service, number, None), inside=True)
        counted.append(inside[inside.index("EVALSHA", 1) :])  # after the pumping guard's call
    first, again = counted
    assert first == [
        "EVALSHA",
        "lua:TIME",
        *["lua:HMGET"] * layers,
        *["lua:HSET", "lua:PEXPIRE"] * layers,
    ]
    # per_number: moving windows; per_country: a counter; global_sends: both kinds
    writes = ["lua:HSET", "lua:PEXPIRE", "lua:HSET", "lua:HSET", "lua:PEXPIRE"]
    assert again == ["EVALSHA", "lua:TIME", *["lua:HMGET"] * layers, *writes]
    await store.aclose()


async def test_a_start_is_one_chain_with_one_clock_read(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """The guard, the rate limits and the start in one EVALSHA, reading TIME once, with
    the inside of each part unchanged (the guard's reads and writes, one HMGET per layer,
    the start's pointer and writes)."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    await store.load_scripts()
    settings = make_settings(service={"fraud_guard": {}})  # default limits, guard on
    verifs = build_components(settings, store)
    service = verifs.settings.services[0]
    async with monitored(redis_server.url, client) as log:
        first = verifs.verifications.start(service, StartParams(to=TO))
        inside = await log.commands_of(first, inside=True)
    chain = inside[: inside.index("EVALSHA", 1)]  # up to the send outcome
    assert chain[0] == "EVALSHA"
    assert chain.count("lua:TIME") == 1
    layers = 3  # per_number, per_country, global_sends
    limiter = ["lua:HMGET"] * layers + ["lua:HSET", "lua:PEXPIRE"] * layers
    # after the guard's reads (its repeat filter's bound is among the last)
    at = chain.index("lua:HMGET", chain.index("lua:ZREMRANGEBYRANK"))
    assert chain[at : at + len(limiter)] == limiter
    # a number not seen lately: one SET reads and sets its latest-verification pointer
    # (NX GET, Redis >= 7.0), then the verification and its TTL
    assert chain[at + len(limiter) :] == ["lua:SET", "lua:HSET", "lua:PEXPIRE"]
    await store.aclose()


async def test_on_a_cluster_the_chain_is_one_call_per_slot(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """Where keys of different hash tags cannot share a script (`one_slot_per_call`, as
    on a Cluster), the same calls go one by one, in the same order; a rate-limit refusal
    still leaves the start undone and the later layers uncounted."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    store = Store(client)
    store.one_slot_per_call = True
    await store.load_scripts()
    limits = {"per_number": ["1/hour"]}
    settings = make_settings(service={"rate_limits": limits, "fraud_guard": {}})  # guard on
    verifs = build_components(settings, store)
    service = verifs.settings.services[0]
    await verifs.verifications.start(service, StartParams(to="+41791234500"))  # connections
    async with monitored(redis_server.url, client) as log:
        started = await log.commands_of(verifs.verifications.start(service, StartParams(to=TO)))
        # the guard, per_number, per_country, global_sends, the start; then the send
        # outcome and the attempt log's records (concurrently), then the message-id index
        # (last: a delivery report finds the send only once both records exist)
        assert started == ["EVALSHA"] * (5 + 2) + ["SET"]
        code = sent_code(verifs, TO)
        # reserve, the approval, the pumping guard's count, the conversion: one call each
        checked = await log.commands_of(verifs.verifications.check(service, to=TO, code=code))
        assert checked == ["EVALSHA"] * 4
        again = verifs.verifications.start(service, StartParams(to=TO))
        refused = await log.commands_of(_refused(again))
        # the guard, per_number (refused); the attempt log's record of the refusal
        assert refused == ["EVALSHA"] * 3
    await store.aclose()


async def _refused(start: Awaitable[object]) -> None:
    with pytest.raises(VerifyError, match="too many verifications for this number"):
        await start
