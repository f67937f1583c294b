"""Parallel starts against the per-number limit: exactly the limit gets through, on both
stores, and every start that gets through is one SMS (new verification or resend)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support.abuse_helpers import only
from verify_service.api.app import build_verifications
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
TO = "+41791234567"


async def test_fifty_parallel_starts_with_a_limit_of_five(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        service={
            "rate_limits": only(per_number=["5/10minutes"]),
            "resend_cooldown": 0,
            "max_send_attempts": 100,
        }
    )
    v = build_verifications(settings, store)
    service = v.settings.services[0]

    async def start() -> str:
        try:
            return (await v.start(service, to=TO)).id
        except VerifyError as exc:
            return f"{exc.code}:{'retry' if exc.retry_after else 'no-retry'}"

    outcomes = await asyncio.gather(*(start() for _ in range(50)))
    ids = [o for o in outcomes if o.startswith("ver_")]
    assert len(ids) == 5
    assert outcomes.count("rate_limited:retry") == 45
    capture = v.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    assert len(capture.sent_to(TO)) == 5
    # one verification, one new code per start that got through (1 created + 4 resends)
    assert len(set(ids)) == 1
    fetched = await v.fetch(service, ids[0])
    assert len(fetched.send_attempts) == 5


async def test_starts_refused_by_the_cooldown_count_against_the_limit(
    store: Store, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        service={"rate_limits": only(per_number=["3/10minutes"]), "resend_cooldown": 30}
    )
    v = build_verifications(settings, store)
    service = v.settings.services[0]
    codes = []
    for _ in range(4):
        try:
            await v.start(service, to=TO)
            codes.append("sent")
        except VerifyError as exc:
            codes.append(exc.code)
    assert codes == ["sent", "resend_too_soon", "resend_too_soon", "rate_limited"]
