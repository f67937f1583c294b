"""Timing: a check does the same work whatever the code looks like.

Why it holds: the candidate is hashed with argon2 (one run, whose cost depends only on the
parameters, not on the input) and compared to every stored hash with
`hmac.compare_digest`; there is no early exit on length or prefix. So a wrong code, a
wrong code of the right length and a code with the right prefix all cost the same. The
first test proves the structure (exactly one argon2 run per check); the second measures
it over HTTP with a generous bound, robust on a loaded machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from tests.conftest import API_KEY
from tests.support.helpers import Api, open_api
from verify_service.config import Settings
from verify_service.store import Store

TO = "+41791234567"


def wrong_codes(code: str) -> dict[str, str]:
    flip = {d: str((int(d) + 1) % 10) for d in "0123456789"}
    return {
        "short": "12",
        "long": code + "0" * 6,
        "right_length": "".join(flip[d] for d in code),
        "right_prefix": code[:-1] + flip[code[-1]],
        "letters": "ABCDEF",
    }


async def test_every_check_costs_exactly_one_argon2_run(
    store: Store, make_settings: Callable[..., Settings], argon2_runs: list[int]
) -> None:
    settings = make_settings(service={"max_check_attempts": 20})
    async with open_api(settings, store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TO})
        await api.post("/v1/verifications", {"to": TO})  # a resend: two stored hashes
        code = api.last_code(TO)
        for label, wrong in wrong_codes(code).items():
            argon2_runs.clear()
            r = await api.post("/v1/verifications/check", {"to": TO, "code": wrong})
            assert r.json()["valid"] is False
            assert len(argon2_runs) == 1, label
        argon2_runs.clear()
        r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert r.json()["valid"] is True
        assert len(argon2_runs) == 1


@pytest.mark.slow  # timing needs many samples
async def test_wrong_codes_of_any_shape_take_the_same_time_over_http(
    make_settings: Callable[..., Settings],
) -> None:
    # Hashing costly enough to dominate a request (a few ms), as in production where it
    # dominates by far; still cheap enough for CI.
    settings = make_settings(
        hashing={"time_cost": 1, "memory_cost_kib": 4096, "parallelism": 1},
        service={"max_check_attempts": 100},
    )
    async with open_api(settings, Store.embedded(), API_KEY) as api:
        await api.post("/v1/verifications", {"to": TO})
        code = api.last_code(TO)
        classes = wrong_codes(code)
        samples: dict[str, list[float]] = {label: [] for label in classes}
        for _ in range(3):  # warm-up: first requests pay for imports and pools
            await check(api, "99")
        for _ in range(18):  # interleaved, so load spikes hit every class alike
            for label, wrong in classes.items():
                samples[label].append(await check(api, wrong))
        medians = {label: statistics.median(times) for label, times in samples.items()}
        shown = {label: round(t * 1000, 2) for label, t in medians.items()}
        print(f"\nmedian check time by code shape (ms): {shown}")
        fastest, slowest = min(medians.values()), max(medians.values())
        # Generous: a length or prefix shortcut would skip argon2 entirely (a ~100% gap).
        assert slowest - fastest < 0.5 * slowest + 0.003, medians


async def check(api: Api, code: str) -> float:
    started = time.perf_counter()
    r = await api.post("/v1/verifications/check", {"to": TO, "code": code})
    elapsed = time.perf_counter() - started
    assert r.status_code == 200
    assert r.json()["valid"] is False
    return elapsed
