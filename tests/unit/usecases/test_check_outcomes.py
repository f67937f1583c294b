"""A check whose attempts are all held by checks in flight waits for their outcome; when
those checks never finish (their process died) it waits no longer than the limit and
answers what a fetch shows (README "Checking a code", "Parallel checks")."""

from __future__ import annotations

import time

import anyio

from tests.conftest import MakeVerifs
from tests.support.helpers import sent_code
from verify_service.api.deps import Components
from verify_service.domain.model import StartParams
from verify_service.store import Store, keys
from verify_service.usecases import verifications as usecases

TO = "+41791234567"


async def all_attempts_held(v: Components, store: Store, attempts: int) -> tuple[str, str]:
    """A pending verification whose `attempts` are all reserved by checks that have not
    finished; its id and tag."""
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO))
    tag = keys.tag_of_id(started.id)
    assert tag is not None
    await store.client.hset(f"{keys.prefix(tag)}:v:{started.id}", "ck", attempts)
    return started.id, tag


async def test_attempts_held_by_checks_that_never_finish(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs(service={"max_check_attempts": 3})
    service = v.settings.services[0]
    verification_id, _ = await all_attempts_held(v, store, 3)  # their checks died
    began = time.perf_counter()
    result = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    waited = time.perf_counter() - began
    assert (result.status, result.valid) == ("max_attempts_reached", False)
    assert usecases.WAIT_MIN <= waited < usecases.WAIT_MAX
    fetched = await v.verifications.fetch(service, verification_id)
    assert fetched.status == "max_attempts_reached"


async def test_the_wait_ends_as_soon_as_the_checks_in_flight_end_it(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs(service={"max_check_attempts": 1})
    service = v.settings.services[0]
    verification_id, tag = await all_attempts_held(v, store, 1)

    async def the_check_in_flight_approves() -> None:
        await anyio.sleep(0.1)
        await store.finish(
            tag=tag, verification_id=verification_id, status="approved", retention=60
        )

    began = time.perf_counter()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(the_check_in_flight_approves)
        result = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert 0.1 <= time.perf_counter() - began < usecases.WAIT_MAX
    assert (result.status, result.valid) == ("approved", False)
