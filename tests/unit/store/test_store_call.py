"""`store_call`'s deadline: its own expiry becomes `store_unavailable`, a cancellation from
outside stays a cancellation, Redis errors are mapped and others pass, and a call that
ends in time leaves nothing armed behind."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from verify_service.domain.errors import VerifyError
from verify_service.store.verifications import store_call


async def test_the_deadline_becomes_store_unavailable() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(VerifyError) as caught, store_call(0.05, what="the attempt log"):
        await asyncio.sleep(10)
    assert caught.value.code == "store_unavailable"
    assert caught.value.detail == "the attempt log did not answer"
    assert loop.time() - started < 1
    await asyncio.sleep(0)  # the task carries no leftover cancellation
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    entered = asyncio.Event()

    async def call() -> None:
        with store_call(5):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(call())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outer_timeout_wins_over_a_later_deadline() -> None:
    async def call() -> None:
        async with asyncio.timeout(0.05):
            with store_call(5):
                await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        await call()


async def test_redis_errors_are_mapped_and_others_pass() -> None:
    with pytest.raises(VerifyError) as caught, store_call(5):
        raise RedisConnectionError("refused")
    assert caught.value.code == "store_unavailable"
    assert isinstance(caught.value.__cause__, RedisConnectionError)

    class Wrapped(Exception):
        pass

    with pytest.raises(VerifyError), store_call(5, Wrapped):
        raise Wrapped
    with pytest.raises(KeyError), store_call(5):
        raise KeyError("not a store failure")


async def test_a_call_in_time_disarms_its_deadline() -> None:
    for _ in range(3):
        with store_call(0.05):
            await asyncio.sleep(0)
    await asyncio.sleep(0.15)  # past every deadline: nothing fires into this task
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
