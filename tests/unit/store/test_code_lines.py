"""The store's side of issue 14: each code's line carries its own expiry (older lines
without one still read), a resend keeps only live codes and ends the verification with its
latest, a resend is of the verification's own shape, and a check of a code of another shape
counts no attempt. Since issue 15, `start` only reserves the send and `record_sends` stores
the code (with its expiry: the reservation's time + expires_in)."""

from __future__ import annotations

from typing import Any

from tests.support.first_format import first_format
from tests.unit.store.conftest import RETENTION, TAG, TO, StartOne
from verify_service.store import Store, keys


async def reserve_send(store: Store, expires_in: int, **shape: Any) -> Any:
    return await store.start(
        tag=TAG,
        new_id=keys.new_id(TAG),
        service="login",
        to=TO,
        expires_in=expires_in,
        max_check_attempts=2,
        max_send_attempts=5,
        resend_cooldown=0,
        retention=RETENTION,
        token_type=shape.get("token_type", "numeric"),
        token_length=shape.get("token_length", 6),
        channel="sms",
        metadata={},
    )


async def resend(
    store: Store, code_hash: str, expires_in: int, *, sent: bool = True, **shape: Any
) -> Any:
    """A resend as `Verifications.start` makes it: reserve, then record the send's outcome
    with the code's hash and its own expiry."""
    reserved = await reserve_send(store, expires_in, **shape)
    assert reserved.outcome == "resent"
    return await store.record_sends(
        tag=TAG,
        verification_id=reserved.record.id,
        attempts=[],
        sent=sent,
        code_hash=code_hash,
        retention=RETENTION,
        code_expires_at_ms=reserved.record.now_ms + expires_in * 1000,
    )


async def test_each_code_has_its_own_expiry_and_the_latest_ends_it(
    store: Store, start_one: StartOne
) -> None:
    await start_one()  # "h", 600 s
    store.clock_offset_ms = 10_000
    resent = await resend(store, "h2", 30)
    record = resent.record
    assert resent.outcome == "ok"
    lives = [(c.hash, round((c.expires_at_ms - record.created_at_ms) / 1000)) for c in record.codes]
    # by expiry; seconds from the start (Redis time moves)
    assert lives == [("h2", 40), ("h", 600)]
    assert record.expires_at_ms == record.codes[-1].expires_at_ms  # the latest code's end
    store.clock_offset_ms = 601_000
    fetched = await store.fetch(tag=TAG, service="login", verification_id=record.id)
    assert fetched.record.live_code_hashes == ()


async def test_a_resend_drops_expired_codes(store: Store, start_one: StartOne) -> None:
    await start_one()
    store.clock_offset_ms = 10_000
    await resend(store, "h2", 30)
    store.clock_offset_ms = 50_000  # h2 is over, h is not
    resent = await resend(store, "h3", 30)
    assert resent.record.code_hashes == ("h3", "h")  # by expiry
    assert resent.record.live_code_hashes == ("h3", "h")


async def test_lines_without_an_expiry_last_as_long_as_the_verification(
    store: Store, start_one: StartOne
) -> None:
    """The first format's `codes` lines without an expiry (written before codes had their
    own), upgraded by the next script that reads the verification."""
    vid = await start_one()
    vkey = f"{keys.prefix(TAG)}:v:{vid}"
    first = await store.fetch(tag=TAG, service="login", verification_id=vid)
    await store.client.delete(vkey)
    await store.client.hset(vkey, mapping=first_format(first.record, codes="old1\nold2"))
    fetched = await store.fetch(tag=TAG, service="login", verification_id=vid)
    assert fetched.record.live_code_hashes == ("old1", "old2")
    resent = await resend(store, "new", 30)
    assert resent.record.code_hashes == ("new", "old1", "old2")
    # the verification's end; the second 1 ms later (two codes of one ms keep both)
    ends = [c.expires_at_ms - fetched.record.expires_at_ms for c in resent.record.codes[1:]]
    assert ends == [0, 1]


async def test_a_failed_resend_gives_the_verification_back_its_earlier_end(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one()  # 600 s
    first = await store.fetch(tag=TAG, service="login", verification_id=vid)
    store.clock_offset_ms = 10_000
    # The reservation moves no end: only a code that went out does.
    reserved = await reserve_send(store, 3600)
    assert (reserved.outcome, reserved.record.send_count) == ("resent", 2)
    assert reserved.record.expires_at_ms == first.record.expires_at_ms
    failed = await store.record_sends(
        tag=TAG,
        verification_id=vid,
        attempts=[],
        sent=False,
        code_hash="h2",
        retention=60,
        code_expires_at_ms=reserved.record.now_ms + 3_600_000,
    )
    assert failed.record.code_hashes == ("h",)
    assert failed.record.expires_at_ms == first.record.expires_at_ms
    assert failed.record.status == "pending"
    longer = await resend(store, "h3", 3600)
    assert longer.record.code_hashes == ("h", "h3")  # by expiry
    assert longer.record.expires_at_ms > first.record.expires_at_ms


async def test_a_resend_keeps_the_verifications_shape(store: Store, start_one: StartOne) -> None:
    vid = await start_one()  # numeric, 6
    for shape in [{"token_length": 4}, {"token_type": "alphanumeric"}]:
        reserved = await reserve_send(store, 600, **shape)
        record = reserved.record
        assert (reserved.outcome, record.id) == ("resent", vid)
        assert (record.token_type, record.token_length) == ("numeric", 6)
    fetched = await store.fetch(tag=TAG, service="login", verification_id=vid)
    assert (fetched.record.send_count, fetched.record.code_hashes) == (3, ("h",))


async def test_a_code_of_another_shape_reserves_nothing(store: Store, start_one: StartOne) -> None:
    await start_one(max_check_attempts=1)  # numeric, 6

    async def reserve(length: int, *types: str) -> Any:
        return await store.reserve(
            tag=TAG, service="login", verification_id=None, retention=60, shape=(length, types)
        )

    for shape in [(5, "numeric"), (6, "alphanumeric"), (6,)]:
        malformed = await reserve(*shape)
        assert (malformed.outcome, malformed.record.check_attempts) == ("malformed", 0)
    reserved = await reserve(6, "numeric", "alphanumeric_mixed")
    assert (reserved.outcome, reserved.record.check_attempts) == ("reserved", 1)
    # Every attempt held by a check in flight: pending still, and said so.
    exhausted = await reserve(6, "numeric")
    assert (exhausted.outcome, exhausted.record.status) == ("exhausted", "pending")
