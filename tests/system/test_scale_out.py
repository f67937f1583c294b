"""Scale-out (README, Operations) on real topologies: the start/check flow and hard rule 1 on a
three-node Redis Cluster, and a Sentinel failover that the service rides through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.crc import key_slot

from tests.conftest import API_KEY, TAG_KEY
from tests.support.helpers import Api, open_api
from tests.support.redis_topologies import (
    Cluster,
    SentinelSetup,
    cli,
    redis_cluster,
    redis_sentinel,
)
from verify_service.config import Settings
from verify_service.store import Store, keys

pytestmark = pytest.mark.redis  # Redis Cluster and Sentinel of real redis-servers

TO = "+41791234567"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with redis_cluster() as c:
        yield c


@pytest.fixture
async def cluster_api(
    cluster: Cluster, make_settings: Callable[..., Settings]
) -> AsyncIterator[Api]:
    store = Store.from_url(cluster.url)
    async with open_api(make_settings(redis_url=cluster.url), store, API_KEY) as api:
        yield api


async def test_cluster_start_check_flow(cluster: Cluster, cluster_api: Api) -> None:
    assert (await cluster_api.client.get("/health/ready")).status_code == 200
    numbers = [f"+4179123{i:04d}" for i in range(12)]
    for to in numbers:  # enough numbers that their tags land on every node
        r = await cluster_api.post("/v1/verifications", {"to": to})
        assert r.status_code == 201, r.text
    # `--cluster create` gives three nodes equal slot ranges in order
    slots = [key_slot(keys.prefix(keys.tag_for(TAG_KEY, "login", n)).encode()) for n in numbers]
    assert {slot * 3 // 16384 for slot in slots} == {0, 1, 2}, "numbers on every node"
    for to in numbers:
        code = cluster_api.last_code(to)
        r = await cluster_api.post("/v1/verifications/check", {"to": to, "code": code})
        assert r.json()["status"] == "approved", r.text
        assert r.json()["valid"] is True


async def test_cluster_fetch_cancel_and_idempotent_start(cluster_api: Api) -> None:
    to = "+41795550002"
    headers = {"Idempotency-Key": "cluster-idem-1"}
    first = await cluster_api.post("/v1/verifications", {"to": to}, headers=headers)
    again = await cluster_api.post("/v1/verifications", {"to": to}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    vid = first.json()["id"]
    assert (await cluster_api.get(f"/v1/verifications/{vid}")).json()["status"] == "pending"
    canceled = await cluster_api.post(f"/v1/verifications/{vid}/cancel")
    assert canceled.json()["status"] == "canceled"


async def test_cluster_parallel_wrong_checks_use_exactly_the_limit(cluster_api: Api) -> None:
    to = "+41795550000"
    r = await cluster_api.post("/v1/verifications", {"to": to})
    code = cluster_api.last_code(to)
    bad = "".join("1" if c != "1" else "2" for c in code)
    answers = await asyncio.gather(
        *(cluster_api.post("/v1/verifications/check", {"to": to, "code": bad}) for _ in range(50))
    )
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("pending") == 4
    assert statuses.count("max_attempts_reached") == 46
    fetched = (await cluster_api.get(f"/v1/verifications/{r.json()['id']}")).json()
    assert fetched["check_attempts"] == 5
    right = await cluster_api.post("/v1/verifications/check", {"to": to, "code": code})
    assert right.json()["valid"] is False


async def test_cluster_parallel_right_checks_approve_once(cluster_api: Api) -> None:
    to = "+41795550001"
    await cluster_api.post("/v1/verifications", {"to": to})
    code = cluster_api.last_code(to)
    answers = await asyncio.gather(
        *(cluster_api.post("/v1/verifications/check", {"to": to, "code": code}) for _ in range(10))
    )
    assert sum(a.json()["valid"] for a in answers) == 1


async def test_sentinel_failover_keeps_the_service_answering(
    make_settings: Callable[..., Settings],
) -> None:
    with redis_sentinel() as sentinel:
        await _ride_failover(sentinel, make_settings)


async def _ride_failover(sentinel: SentinelSetup, make_settings: Callable[..., Settings]) -> None:
    store = Store.from_url(sentinel.url)
    async with open_api(make_settings(redis_url=sentinel.url), store, API_KEY) as api:
        assert (await api.client.get("/health/ready")).status_code == 200
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201, r.text
        code = api.last_code(TO)
        # written to the primary; wait until the replica has it too (asynchronous replication)
        await asyncio.to_thread(cli, sentinel.primary.port, "wait", "1", "2000")

        assert "OK" in cli(sentinel.sentinel_port, "sentinel", "failover", sentinel.name)
        statuses: list[int] = []
        deadline = time.monotonic() + 30
        while sentinel.master_port() != sentinel.replica.port:
            assert time.monotonic() < deadline, "the sentinel did not promote the replica"
            ready = await api.client.get("/health/ready")
            statuses.append(ready.status_code)
            await asyncio.sleep(0.1)
        # During the switch, readiness is either fine or a clean 503; never a 500.
        assert set(statuses) <= {200, 503}

        # The verification started before the failover is checked on the new primary.
        deadline = time.monotonic() + 15
        while True:
            r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "id": r.json()["id"],
            "status": "approved",
            "valid": True,
            "attempts_remaining": 0,
        }
        # And new verifications work end to end.
        other = "+41797654321"
        assert (await api.post("/v1/verifications", {"to": other})).status_code == 201
        r = await api.post("/v1/verifications/check", {"to": other, "code": api.last_code(other)})
        assert r.json()["valid"] is True
        assert (await api.client.get("/health/ready")).status_code == 200
