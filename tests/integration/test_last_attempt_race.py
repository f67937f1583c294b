"""A right code that reserved an attempt within the limit approves, even when a wrong check
on the last attempt, reserved after it, finishes first (README "Parallel checks").

Before: the wrong last attempt recorded max_attempts_reached as soon as its own hash ended,
and the right check, still hashing, found the verification locked: the person who typed
the right code was told it was wrong, and locked out by a guess that came after theirs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import anyio

from tests.conftest import MakeVerifs
from tests.support.helpers import sent_code, wrong_code
from verify_service.api.deps import Components
from verify_service.domain.model import CheckResult, StartParams

TO = "+41791234567"
SLOW_S = 0.1  # the right code's hash: longer than the wrong one's by this much (< WAIT_MIN)


def slow_for(v: Components, code: str) -> threading.Event:
    """Make the hash of `code` take SLOW_S longer; the event is set once it has begun."""
    hasher: Any = v.verifications._hasher
    real = hasher.matches
    began = threading.Event()

    def matches(candidate: str, scope: str, stored: Iterable[str]) -> bool:
        if candidate == code:
            began.set()
            time.sleep(SLOW_S)
        return bool(real(candidate, scope, stored))

    hasher.matches = matches
    return began


async def test_a_right_code_beats_a_later_wrong_last_attempt(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"max_check_attempts": 3})
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO))
    code = sent_code(v, TO)
    wrong = wrong_code(code)
    await v.verifications.check(service, to=TO, code=wrong)  # attempt 1 of 3
    began = slow_for(v, code)
    results: dict[str, CheckResult] = {}

    async def check(name: str, typed: str) -> None:
        results[name] = await v.verifications.check(service, to=TO, code=typed)

    async with anyio.create_task_group() as group:
        group.start_soon(check, "right", code)  # attempt 2: hashing, slowly
        while not began.is_set():  # noqa: ASYNC110 (set from the hash thread)
            await anyio.sleep(0.005)
        group.start_soon(check, "wrong", wrong)  # attempt 3, the last: ends first

    right, last = results["right"], results["wrong"]
    assert (right.status, right.valid) == ("approved", True)
    assert (last.status, last.valid) == ("approved", False)
    fetched = await v.verifications.fetch(service, started.id)
    assert fetched.status == "approved"


async def test_a_wrong_last_attempt_alone_still_locks_at_once(make_verifs: MakeVerifs) -> None:
    """With no other check in flight, the last wrong attempt locks the verification (the
    wait for checks in flight ends as soon as none is left)."""
    v = make_verifs(service={"max_check_attempts": 2})
    service = v.settings.services[0]
    await v.verifications.start(service, StartParams(to=TO))
    wrong = wrong_code(sent_code(v, TO))
    await v.verifications.check(service, to=TO, code=wrong)
    result = await v.verifications.check(service, to=TO, code=wrong)
    assert (result.status, result.valid, result.attempts_remaining) == (
        "max_attempts_reached",
        False,
        0,
    )
