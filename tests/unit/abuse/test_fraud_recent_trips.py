"""The Fraud page's recent trips (issue 18): blocks that ended within the last day, and
blocks an operator lifted (by whom, when), with the counts that caused them; bounded per
service. On fakeredis and a real redis-server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.unit.abuse.test_fraud_guard import components, history, pump_until_blocked, pumped
from verify_service.config import Settings
from verify_service.store import Store, keys
from verify_service.store.fraud import LIFTS_KEPT, LIFTS_TTL, FraudStore
from verify_service.usecases.fraud import FraudControl

MakeSettings = Callable[..., Settings]


async def blocked(store: Store, make_settings: MakeSettings) -> tuple[FraudControl, Any]:
    """The guard's operator control and the service, with one range of it blocked."""
    v = components(store, make_settings)
    assert v.fraud is not None
    await history(v)
    await pump_until_blocked(v)
    return v.fraud, v.settings.services[0]


async def test_an_ended_block_is_a_recent_trip_for_a_day(
    store: Store, make_settings: MakeSettings
) -> None:
    fraud, service = await blocked(store, make_settings)
    state = await fraud.list_blocks(service)
    [block] = state.blocks
    assert state.recent == []  # in force: not among the ended ones yet

    store.clock_offset_ms = int((block.until.timestamp() - block.blocked_at.timestamp()) + 5) * 1000
    state = await fraud.list_blocks(service)
    assert state.blocks == []
    [trip] = state.recent
    assert trip.state == "ended"
    assert (trip.block.range, trip.block.level, trip.block.strikes) == (
        block.range,
        block.level,
        1,
    )
    assert trip.block.starts == block.starts
    assert trip.block.approvals == block.approvals
    assert trip.block.refused == block.refused


async def test_a_lifted_block_stays_a_recent_trip_with_who_and_when(
    store: Store, make_settings: MakeSettings
) -> None:
    fraud, service = await blocked(store, make_settings)
    [block] = (await fraud.list_blocks(service)).blocks
    await fraud.lift(service, block.range, "console:alice")
    state = await fraud.list_blocks(service)
    assert state.blocks == []
    [trip] = state.recent
    assert (trip.state, trip.lifted_by) == ("lifted", "console:alice")
    assert trip.lifted_at is not None
    assert trip.lifted_at >= block.blocked_at
    assert (trip.block.range, trip.block.starts, trip.block.refused) == (
        block.range,
        block.starts,
        block.refused,
    )
    assert all(pumped(i) not in repr(state) for i in range(40))  # ranges, never numbers

    # A day later it is no longer recent.
    store.clock_offset_ms = (LIFTS_TTL + 60) * 1000
    assert (await fraud.list_blocks(service)).recent == []


async def test_lifts_kept_are_bounded_newest_first(store: Store) -> None:
    fraud = FraudStore(store)
    k = keys.fraud_keys("login")
    now_ms = 10**13  # far in the future: every block is in force
    for i in range(LIFTS_KEPT + 7):
        prefix = f"+4915211{i:04d}"
        await store.client.hset(k.blocks, prefix, f"{now_ms} {i} 5 0 0.8 1 block_100")
        assert await fraud.lift("login", prefix, "console:bob") is not None
    state = await fraud.state("login")
    assert len(state.lifted) == LIFTS_KEPT
    assert state.lifted[0].block.prefix == f"+4915211{LIFTS_KEPT + 6:04d}"
    assert {lift.actor for lift in state.lifted} == {"console:bob"}
    assert 0 < await store.client.pttl(k.lifts) <= LIFTS_TTL * 1000
