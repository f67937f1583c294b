"""SMS pumping guard: many starts to one country with no approvals block that country for
a cool-down (403 fraud_suspected), while a country whose codes get used keeps working."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.abuse_helpers import NO_LIMITS
from tests.support.helpers import sent_code
from verify_service.api.app import build_verifications
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store
from verify_service.store.pumping import PumpingCounters
from verify_service.usecases.verifications import Verifications

MakeSettings = Callable[..., Settings]
GUARD = {"min_starts": 10, "min_conversion": 0.5, "window": 3600, "cooldown": 600}


def france(i: int) -> str:
    return f"+336123456{i:02d}"


def swiss(i: int) -> str:
    return f"+417912345{i:02d}"


def verifs_for(
    store: Store, make_settings: MakeSettings, **guard: Any
) -> Callable[[], Verifications]:
    settings = make_settings(service={"rate_limits": NO_LIMITS, "fraud_guard": {**GUARD, **guard}})
    return lambda: build_verifications(settings, store)


async def start_code(v: Verifications, to: str) -> str:
    try:
        await v.start(v.settings.services[0], to=to)
    except VerifyError as exc:
        return exc.code
    return "sent"


async def approve(v: Verifications, to: str) -> None:
    code = sent_code(v, to)
    assert (await v.check(v.settings.services[0], to=to, code=code)).valid


async def test_a_pumping_run_trips_the_guard_and_a_healthy_country_is_spared(
    store: Store, make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    v = verifs_for(store, make_settings)()
    for i in range(12):  # the healthy country: most codes come back
        assert await start_code(v, swiss(i)) == "sent"
        if i % 4:
            await approve(v, swiss(i))
    with caplog.at_level(logging.WARNING, "verify_service.abuse"):
        outcomes = [await start_code(v, france(i)) for i in range(15)]
    assert outcomes == ["sent"] * 10 + ["fraud_suspected"] * 5
    assert "blocks starts to FR" in caplog.text
    assert "+336" not in caplog.text  # no numbers in the log

    with pytest.raises(VerifyError) as info:
        await v.start(v.settings.services[0], to=france(50))
    assert info.value.status == 403
    assert 1 <= (info.value.retry_after or 0) <= 600
    assert info.value.extra["country"] == "FR"
    assert await start_code(v, swiss(40)) == "sent"
    capture = v.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    assert len([m for m in capture.messages if m.to.startswith("+33")]) == 10

    metrics = v.metrics.render().decode()
    assert 'verify_fraud_guard_trips_total{country="FR",service="login"} 1.0' in metrics
    assert (
        'verify_blocks_total{country="FR",reason="fraud_suspected",service="login"} 6.0' in metrics
    )


async def test_the_block_is_shared_by_instances_and_ends_after_the_cool_down(
    store: Store, make_settings: MakeSettings
) -> None:
    make = verifs_for(store, make_settings)
    first = make()
    for i in range(11):
        await start_code(first, france(i))
    second = make()  # another worker on the same Redis
    assert await start_code(second, france(30)) == "fraud_suspected"
    store.clock_offset_ms += 601_000  # Redis time, past the cool-down
    third = make()
    assert [await start_code(third, france(40 + i)) for i in range(10)] == ["sent"] * 10


async def test_approvals_keep_a_busy_country_open(
    store: Store, make_settings: MakeSettings
) -> None:
    v = verifs_for(store, make_settings)()
    for i in range(30):
        assert await start_code(v, swiss(i)) == "sent"
        await approve(v, swiss(i))


async def test_old_starts_slide_out_of_the_window(
    store: Store, make_settings: MakeSettings
) -> None:
    v = verifs_for(store, make_settings)()
    for i in range(9):
        await start_code(v, france(i))
    store.clock_offset_ms += 3_700_000  # an hour later those nine no longer count
    assert [await start_code(v, france(20 + i)) for i in range(10)] == ["sent"] * 10


async def test_the_guard_can_be_switched_off(store: Store, make_settings: MakeSettings) -> None:
    v = verifs_for(store, make_settings, enabled=False)()
    assert [await start_code(v, france(i)) for i in range(15)] == ["sent"] * 15


async def test_pumping_keys_are_hash_tagged_and_expire(
    store: Store, make_settings: MakeSettings
) -> None:
    v = verifs_for(store, make_settings)()
    await start_code(v, france(1))
    keys = [k async for k in store.client.scan_iter("vs:pump:*")]
    assert len(keys) == 1
    assert keys[0].startswith("vs:pump:{")
    assert keys[0].endswith("}")
    assert 0 < await store.client.pttl(keys[0]) <= (3600 + 600) * 1000


class GuardModel:
    """The guard's rule, written out plainly, for one country within one window."""

    def __init__(self, min_starts: int, min_conversion: float) -> None:
        self.min_starts, self.min_conversion = min_starts, min_conversion
        self.starts = self.approvals = 0
        self.blocked = False

    def start(self) -> str:
        if self.blocked:
            return "blocked"
        if self.starts >= self.min_starts and self.approvals < self.starts * self.min_conversion:
            self.blocked, self.starts, self.approvals = True, 0, 0
            return "tripped"
        self.starts += 1
        return "ok"

    def approve(self) -> None:
        self.approvals += 1  # also while blocked: codes sent before the block still count


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(st.sampled_from(["start", "start", "approve"]), max_size=40),
    min_starts=st.integers(1, 8),
    min_conversion=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]),
)
def test_the_guard_follows_its_rule(
    events: list[str], min_starts: int, min_conversion: float
) -> None:
    async def run() -> None:
        store = Store.embedded()
        counters = PumpingCounters(store)
        model = GuardModel(min_starts, min_conversion)
        knobs = {"window": 3600, "cooldown": 600}
        for event in events:
            if event == "start":
                verdict = await counters.start(
                    "s", "FR", min_starts=min_starts, min_conversion=min_conversion, **knobs
                )
                assert verdict.state == model.start()
            else:
                await counters.approved("s", "FR", **knobs)
                model.approve()
        await store.aclose()

    asyncio.run(run())
