"""The approval and the send with their side effects in one round trip (issue 22,
`Store.finish(then=...)`, `Store.record_sends(attempt_log=...)`), on fakeredis and a real
redis-server: the side effects run with the state change that sets them off, only then,
and a side effect that fails never fails or undoes it (its reply says it failed). On a
Cluster (`one_slot_per_call`) the approval's side effects are left to the caller and the
send's run beside it, the message-id index after both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.conftest import TAG_KEY
from tests.unit.store.conftest import RETENTION, TAG, TO, StartOne
from verify_service.abuse.fraud import guard_args
from verify_service.config.abuse import FraudGuard
from verify_service.domain.attempts import Attempt, ms_of
from verify_service.domain.model import SendAttempt
from verify_service.store import Store, keys
from verify_service.store.attempts import AttemptStore, new_id
from verify_service.store.fraud import FraudStore
from verify_service.store.scripts import ANY, PART_FAILED, Call, failed

SERVICE = "login"
PREFIXES = ["*", "+41", "+4179"]


def _log(store: Store) -> AttemptStore:
    return AttemptStore(store, tag_key=TAG_KEY, retention=86400, max_per_service=1000)


def _sent(verification_id: str, at: datetime) -> Attempt:
    return Attempt(
        id=new_id(at),
        created_at=at,
        service=SERVICE,
        status="sent",
        to=TO,
        country="CH",
        channel="sms",
        provider="capture",
        verification_id=verification_id,
        segments=1,
    )


def _counted(store: Store) -> Call:
    """The pumping guard's count of one approval to TO."""
    return FraudStore(store).approve_call(SERVICE, PREFIXES, guard_args(FraudGuard()))


async def _approvals(store: Store) -> str | None:
    """The guard's raw counters of TO's narrowest range (None: never counted)."""
    found = await store.client.hget(keys.fraud_keys(SERVICE).ranges, "+4179")
    return None if found is None else str(found)


async def _converted(store: Store, verification_id: str) -> list[bool]:
    batch = await _log(store).read(SERVICE, count=10)
    return [a.converted for a in batch.attempts if a.verification_id == verification_id]


async def _sent_and_logged(store: Store, start_one: StartOne) -> tuple[str, Call]:
    """A pending verification whose send is in the attempt log; its id and conversion."""
    vid = await start_one()
    at = datetime.now(UTC)
    log = _log(store)
    await log.add(SERVICE, TAG, [_sent(vid, at)], created=True)
    conversion = log.convert_call(SERVICE, vid, [ms_of(at)], ms_of(at))
    assert conversion is not None
    return vid, conversion


async def _approve(store: Store, vid: str, then: list[Call]) -> tuple[str, object]:
    ended = await store.finish(
        tag=TAG, verification_id=vid, status="approved", retention=RETENTION, then=then
    )
    return ended.outcome, ended.side


async def test_an_approval_runs_its_side_effects_in_its_call(
    store: Store, start_one: StartOne
) -> None:
    vid, conversion = await _sent_and_logged(store, start_one)
    assert await _approve(store, vid, [_counted(store), conversion]) == ("changed", (["ok"], 1))
    assert await _approvals(store) is not None
    assert await _converted(store, vid) == [True]
    # a second right check: nothing changes, nothing is counted again
    counters = await _approvals(store)
    assert await _approve(store, vid, [_counted(store), conversion]) == ("unchanged", ())
    assert await _approvals(store) == counters


async def test_a_failing_side_effect_leaves_the_approval_standing(
    store: Store, start_one: StartOne
) -> None:
    """The guard's counters are not a hash (a key clash, an operator's mistake): its count
    fails, the approval and the conversion after it stand."""
    vid, conversion = await _sent_and_logged(store, start_one)
    await store.client.set(keys.fraud_keys(SERVICE).ranges, "not a hash")
    outcome, side = await _approve(store, vid, [_counted(store), conversion])
    assert outcome == "changed"
    assert isinstance(side, tuple)
    assert failed(side[0])
    assert side[0][0] == PART_FAILED
    assert "WRONGTYPE" in side[0][1]
    assert side[1] == 1
    assert await store.client.hget(keys.verification_key(TAG, vid), "st") == "approved"
    assert await _converted(store, vid) == [True]


async def test_on_a_cluster_the_caller_runs_the_side_effects(
    store: Store, start_one: StartOne
) -> None:
    vid, conversion = await _sent_and_logged(store, start_one)
    store.one_slot_per_call = True
    assert await _approve(store, vid, [_counted(store), conversion]) == ("changed", None)
    assert await _approvals(store) is None
    assert await _converted(store, vid) == [False]


async def test_an_approval_without_side_effects_is_the_finish_alone(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one()
    assert await _approve(store, vid, []) == ("changed", ())


def _records(store: Store, vid: str, at: datetime) -> Call:
    call = _log(store).add_call(SERVICE, TAG, [_sent(vid, at)], created=True)
    assert call is not None
    return call


async def _record_send(store: Store, vid: str, attempt_log: Call | None) -> tuple[str, object]:
    recorded = await store.record_sends(
        tag=TAG,
        verification_id=vid,
        attempts=[SendAttempt(datetime.now(UTC), "capture", f"{vid}.1", "sent").to_json()],
        sent=True,
        code_hash="h2",
        retention=RETENTION,
        code_expires_at_ms=ms_of(datetime.now(UTC)) + 600_000,
        message_ids=[("capture", f"{vid}.1")],
        index_ttl_ms=900_000,
        attempt_log=attempt_log,
    )
    return recorded.outcome, recorded.side


@pytest.mark.parametrize("one_slot_per_call", [False, True], ids=["one server", "cluster"])
async def test_a_send_writes_its_records_and_index_together(
    store: Store, start_one: StartOne, one_slot_per_call: bool
) -> None:
    vid = await start_one()
    store.one_slot_per_call = one_slot_per_call
    outcome, side = await _record_send(store, vid, _records(store, vid, datetime.now(UTC)))
    assert (outcome, side) == ("ok", ("ok",))
    index = keys.message_key("capture", f"{vid}.1")
    assert await store.client.get(index) == vid
    assert 800_000 < await store.client.pttl(index) <= 900_000
    assert await _converted(store, vid) == [False]  # the log's record is there


@pytest.mark.parametrize("one_slot_per_call", [False, True], ids=["one server", "cluster"])
async def test_a_failing_log_write_leaves_the_send_recorded(
    store: Store, start_one: StartOne, one_slot_per_call: bool
) -> None:
    vid = await start_one()
    store.one_slot_per_call = one_slot_per_call
    await store.client.set(keys.attempts_log_key(SERVICE), "not a sorted set")
    outcome, side = await _record_send(store, vid, _records(store, vid, datetime.now(UTC)))
    assert outcome == "ok"
    assert isinstance(side, tuple)
    assert failed(side[0])
    assert await store.client.get(keys.message_key("capture", f"{vid}.1")) == vid
    sends = await store.client.hget(keys.verification_key(TAG, vid), "s:1")
    assert sends is not None


async def test_a_send_of_a_verification_gone_still_logs_and_indexes(
    store: Store, start_one: StartOne
) -> None:
    """As before: the provider took the message, so its record and its reports count
    whatever became of the verification."""
    vid = await start_one()
    await store.client.delete(keys.verification_key(TAG, vid))
    outcome, side = await _record_send(store, vid, _records(store, vid, datetime.now(UTC)))
    assert (outcome, side) == ("not_found", ("ok",))
    assert await store.client.get(keys.message_key("capture", f"{vid}.1")) == vid
    assert await _converted(store, vid) == [False]


@pytest.mark.parametrize("together", [True, False])
async def test_a_failing_main_part_fails_the_chain(
    store: Store, start_one: StartOne, together: bool
) -> None:
    """Only side effects are guarded: an approval that cannot be recorded is an error
    (the check answers store_unavailable), and nothing after it runs."""
    vid = await start_one()
    vkey = keys.verification_key(TAG, vid)
    await store.client.delete(vkey)
    await store.client.set(vkey, "not a hash")
    args = [0, vid, "approved", RETENTION, "0"]
    finish = Call("finish", [keys.prefix(TAG)], args, goes_on=("changed",))
    counted = replace(_counted(store), goes_on=(ANY,), guarded=True)
    with pytest.raises(Exception, match="WRONGTYPE"):
        await store.scripts.chain([finish, counted], together=together)
    assert await _approvals(store) is None
