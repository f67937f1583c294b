"""Where a dialect hides existence, its timing hides it too (issue 14, point 5).

Swisscom's check answers FAILED for a wrong code, an unknown number and a locked or ended
verification alike; each of those answers costs one argon2 run, in the hash threads, as a
check of a pending verification does. The first test proves the structure (one run per
answer); the second measures the time over HTTP and compares the distributions."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from tests.conftest import API_KEY
from tests.support.dialects import SWISSCOM, swisscom_check, swisscom_headers, swisscom_start
from tests.support.helpers import Api, open_api, wrong_code
from verify_service.config import Settings
from verify_service.store import Store

PENDING, UNKNOWN, LOCKED, APPROVED = "+41790000601", "+41790000602", "+41790000603", "+41790000604"


async def prepare(api: Api) -> str:
    """A pending, a locked and an approved verification; the pending one's wrong code."""
    for to in (PENDING, LOCKED, APPROVED):
        await swisscom_start(api, to, tokenLength=6)
    for _ in range(api.components.settings.services[0].max_check_attempts):
        assert await swisscom_check(api, LOCKED, wrong_code(api.last_code(LOCKED))) == "FAILED"
    assert await swisscom_check(api, APPROVED, api.last_code(APPROVED)) == "SUCCESS"
    return wrong_code(api.last_code(PENDING))


async def test_every_swisscom_answer_costs_one_argon2_run(
    store: Store, make_settings: Callable[..., Settings], argon2_runs: list[int]
) -> None:
    settings = make_settings(service={"max_check_attempts": 3})
    async with open_api(settings, store, API_KEY) as api:
        wrong = await prepare(api)
        cases = {
            "pending, wrong code": (PENDING, wrong),
            "pending, not a code": (PENDING, "12"),
            "unknown number": (UNKNOWN, wrong),
            "locked": (LOCKED, wrong),
            "approved": (APPROVED, wrong),
        }
        for label, (to, token) in cases.items():
            argon2_runs.clear()
            assert await swisscom_check(api, to, token) == "FAILED", label
            assert len(argon2_runs) == 1, label


async def timed(api: Api, to: str, token: str) -> float:
    started = time.perf_counter()
    r = await api.client.get(f"{SWISSCOM}/{to}/{token}", headers=swisscom_headers(api))
    elapsed = time.perf_counter() - started
    assert r.json() == {"validation": "FAILED"}
    return elapsed


@pytest.mark.slow  # timing needs many samples
async def test_unknown_and_locked_numbers_take_as_long_as_a_pending_one(
    make_settings: Callable[..., Settings],
) -> None:
    # Hashing costly enough to dominate a request, as in production (where it takes tens
    # of ms against a request's few); cheap enough for CI.
    settings = make_settings(
        hashing={"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1},
        service={"max_check_attempts": 100},
    )
    async with open_api(settings, Store.embedded(), API_KEY) as api:
        wrong = await prepare(api)
        classes = {"pending": PENDING, "unknown": UNKNOWN, "locked": LOCKED, "ended": APPROVED}
        samples: dict[str, list[float]] = {label: [] for label in classes}
        for _ in range(3):  # warm-up
            await timed(api, UNKNOWN, wrong)
        for _ in range(30):  # interleaved, so load spikes hit every class alike
            for label, to in classes.items():
                samples[label].append(await timed(api, to, wrong))
        medians = {label: statistics.median(times) for label, times in samples.items()}
        shown = {label: round(t * 1000, 2) for label, t in medians.items()}
        print(f"\nmedian Swisscom check time by number state (ms): {shown}")
        pending = medians["pending"]
        for label, median in medians.items():
            # Skipping the hash costs most of a request (a several-fold gap): 30 % is ample.
            assert abs(median - pending) < 0.3 * pending + 0.002, (label, shown)
