"""What an approval and a send set off in Redis besides themselves (the pumping guard's
count of an approval, the attempt log's records and conversion) never fails or undoes
them: on one server they run guarded in the same script (`Store.finish(then=...)`,
`Store.record_sends(attempt_log=...)`), on a Cluster as calls of their own; either way a
side effect that fails is logged and the person's check or start goes through."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from tests.support.abuse_helpers import NO_LIMITS
from tests.support.helpers import sent_code
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import Settings
from verify_service.domain.attempts import AttemptFilter
from verify_service.domain.model import StartParams
from verify_service.store import Store, keys

TO = "+41791234567"
SERVICE = "login"


def _components(store: Store, make_settings: Callable[..., Settings], cluster: bool) -> Components:
    store.one_slot_per_call = cluster
    guard_on = {"rate_limits": NO_LIMITS, "fraud_guard": {}}
    return build_components(make_settings(service=guard_on), store)


async def _counters(store: Store) -> str | None:
    """The pumping guard's raw counters of TO's narrowest range."""
    found = await store.client.hget(keys.fraud_keys(SERVICE).ranges, "+4179")
    return None if found is None else str(found)


async def _converted(v: Components) -> list[bool]:
    page = await v.attempts.list(v.settings.services[0], AttemptFilter(to=TO))
    return [a.converted for a in page.attempts]


@pytest.mark.parametrize("cluster", [False, True], ids=["one server", "cluster"])
async def test_an_approval_is_counted_by_the_guard_and_converted(
    store: Store, make_settings: Callable[..., Settings], cluster: bool
) -> None:
    v = _components(store, make_settings, cluster)
    service = v.settings.services[0]
    await v.verifications.start(service, StartParams(to=TO))
    before = await _counters(store)
    assert before is not None  # the start was counted
    checked = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert checked.valid
    counted = await _counters(store)
    assert counted != before  # the approval was counted (fraud_approve.lua's own format)
    again = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert not again.valid
    assert await _counters(store) == counted  # ... once
    assert await _converted(v) == [True]


@pytest.mark.parametrize("cluster", [False, True], ids=["one server", "cluster"])
async def test_a_guard_that_cannot_count_leaves_the_approval_and_conversion(
    store: Store,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    cluster: bool,
) -> None:
    v = _components(store, make_settings, cluster)
    service = v.settings.services[0]
    await v.verifications.start(service, StartParams(to=TO))
    ranges = keys.fraud_keys(SERVICE).ranges
    await store.client.delete(ranges)
    await store.client.set(ranges, "not a hash")  # the guard's counters unusable
    with caplog.at_level(logging.WARNING):
        checked = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert checked.valid
    assert checked.status == "approved"
    assert "could not count an approval" in caplog.text
    assert await _converted(v) == [True]
    again = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert (again.valid, again.status) == (False, "approved")


@pytest.mark.parametrize("cluster", [False, True], ids=["one server", "cluster"])
async def test_an_attempt_log_that_cannot_write_leaves_the_start_and_approval(
    store: Store,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    cluster: bool,
) -> None:
    v = _components(store, make_settings, cluster)
    service = v.settings.services[0]
    log_key = keys.attempts_log_key(SERVICE)
    await store.client.set(log_key, "not a sorted set")
    with caplog.at_level(logging.WARNING):
        started = await v.verifications.start(service, StartParams(to=TO))
        assert [a.status for a in started.send_attempts] == ["sent"]
        assert "records of a send were not written" in caplog.text
        caplog.clear()
        before = await _counters(store)
        checked = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert (checked.valid, checked.status) == (True, "approved")
    assert "conversion of a verification was not recorded" in caplog.text
    assert await _counters(store) != before  # the guard counted the approval
