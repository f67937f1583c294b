"""Parallel checks never claim a lockout that did not happen (issue 14, point 4), over HTTP
on a real redis-server: with every remaining attempt in flight, a check waits for those
checks and answers what the verification became (README "Checking a code")."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis

from tests.conftest import API_KEY
from tests.support.dialects import twilio_check, twilio_start, v1_check, v1_start
from tests.support.helpers import Api, wrong_code
from tests.support.live_server import serve
from tests.support.redis_server import RedisServer
from verify_service.api.app import create_app
from verify_service.config import Settings

numbers = (f"+417900{n:05d}" for n in itertools.count(500))


@pytest.fixture
async def api(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> AsyncIterator[Api]:
    """The app under a real uvicorn (the in-process client runs one request at a time),
    on a real redis-server, with the production hash cost, so that checks overlap as they
    do in production (with a cheap hash each check ends before the next one arrives)."""
    with redis.Redis.from_url(redis_server.url) as raw:
        raw.flushdb()
    settings = make_settings(
        redis_url=redis_server.url,
        hashing={"time_cost": 2, "memory_cost_kib": 19456, "parallelism": 1},
        service={"max_check_attempts": 5},
    )
    app = create_app(settings)
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield Api(client, app.state.components, API_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize("parallel", [10, 20])
async def test_v1_parallel_right_checks_approve_once_and_claim_no_lockout(
    api: Api, parallel: int
) -> None:
    to = next(numbers)
    started = (await v1_start(api, to)).json()
    code = api.last_code(to)
    results = await asyncio.gather(*(v1_check(api, to, code) for _ in range(parallel)))
    assert sum(r["valid"] for r in results) == 1
    assert [r for r in results if r["status"] == "max_attempts_reached"] == []
    assert {r["status"] for r in results} == {"approved"}
    r = await api.get(f"/v1/verifications/{started['id']}")
    assert r.json()["status"] == "approved"


@pytest.mark.parametrize("parallel", [10, 20])
async def test_twilio_parallel_right_checks_never_answer_60202(api: Api, parallel: int) -> None:
    to = next(numbers)
    await twilio_start(api, to)
    code = api.last_code(to)
    replies = await asyncio.gather(*(twilio_check(api, to, code) for _ in range(parallel)))
    assert [r.json() for r in replies if r.status_code == 429] == []
    approved = [r for r in replies if r.status_code == 200]
    assert [r.json()["status"] for r in approved] == ["approved"]
    # The others checked an approved verification: 20404, as for any ended one.
    assert {(r.status_code, r.json()["code"]) for r in replies if r.status_code != 200} == {
        (404, 20404)
    }


async def test_v1_a_wrong_last_attempt_does_not_claim_a_lockout_after_an_approval(
    api: Api,
) -> None:
    # Four wrong checks first, then the last attempt wrong and a right one racing for it,
    # many times over: whatever wins, no reply names a state the verification is not in.
    for _ in range(3):
        to = next(numbers)
        started = (await v1_start(api, to)).json()
        code = api.last_code(to)
        wrong = wrong_code(code)
        for _ in range(4):
            await v1_check(api, to, wrong)
        results = await asyncio.gather(
            *(v1_check(api, to, c) for c in [wrong, code, wrong, code, code])
        )
        final = (await api.get(f"/v1/verifications/{started['id']}")).json()["status"]
        assert {r["status"] for r in results} <= {final, "pending"}, (final, results)
        assert sum(r["valid"] for r in results) == (final == "approved")


async def test_100_parallel_wrong_checks_still_use_exactly_the_limit(api: Api) -> None:
    to = next(numbers)
    started = (await v1_start(api, to)).json()
    wrong = wrong_code(api.last_code(to))
    results = await asyncio.gather(*(v1_check(api, to, wrong) for _ in range(100)))
    assert sorted(r["attempts_remaining"] for r in results if r["status"] == "pending") == [
        1,
        2,
        3,
        4,
    ]
    assert sum(r["status"] == "max_attempts_reached" for r in results) == 96
    fetched = (await api.get(f"/v1/verifications/{started['id']}")).json()
    assert (fetched["status"], fetched["check_attempts"]) == ("max_attempts_reached", 5)
