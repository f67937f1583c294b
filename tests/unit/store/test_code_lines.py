"""The store's side of issue 14: each code's line carries its own expiry (older lines
without one still read), a resend keeps only live codes and ends the verification with its
latest, a resend of another shape changes nothing, and a check of a code of another shape
counts no attempt."""

from __future__ import annotations

from typing import Any

from tests.unit.store.conftest import RETENTION, TAG, TO, StartOne
from verify_service.store import Store, keys


async def resend(store: Store, code_hash: str, expires_in: int, **shape: Any) -> Any:
    return await store.start(
        tag=TAG,
        new_id=keys.new_id(TAG),
        service="login",
        to=TO,
        code_hash=code_hash,
        expires_in=expires_in,
        max_check_attempts=2,
        max_send_attempts=5,
        resend_cooldown=0,
        retention=RETENTION,
        token_type=shape.get("token_type", "numeric"),
        token_length=shape.get("token_length", 6),
        channel="sms",
        metadata={},
        same_shape=shape.get("same_shape", True),
    )


async def test_each_code_has_its_own_expiry_and_the_latest_ends_it(
    store: Store, start_one: StartOne
) -> None:
    await start_one()  # "h", 600 s
    store.clock_offset_ms = 10_000
    resent = await resend(store, "h2", 30)
    record = resent.record
    assert resent.outcome == "resent"
    lives = [(c.hash, round((c.expires_at_ms - record.created_at_ms) / 1000)) for c in record.codes]
    assert lives == [("h", 600), ("h2", 40)]  # seconds from the start (Redis time moves)
    assert record.expires_at_ms == record.codes[0].expires_at_ms  # the latest code's end
    store.clock_offset_ms = 601_000
    fetched = await store.fetch(tag=TAG, service="login", verification_id=record.id)
    assert fetched.record.live_code_hashes == ()


async def test_a_resend_drops_expired_codes(store: Store, start_one: StartOne) -> None:
    await start_one()
    store.clock_offset_ms = 10_000
    await resend(store, "h2", 30)
    store.clock_offset_ms = 50_000  # h2 is over, h is not
    resent = await resend(store, "h3", 30)
    assert resent.record.code_hashes == ("h", "h3")
    assert resent.record.live_code_hashes == ("h", "h3")


async def test_lines_without_an_expiry_last_as_long_as_the_verification(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one()
    vkey = f"{keys.prefix(TAG)}:v:{vid}"
    await store.client.hset(vkey, "codes", "old1\nold2")  # as written before this change
    fetched = await store.fetch(tag=TAG, service="login", verification_id=vid)
    assert fetched.record.live_code_hashes == ("old1", "old2")
    resent = await resend(store, "new", 30)
    assert resent.record.code_hashes == ("old1", "old2", "new")
    assert {c.expires_at_ms for c in resent.record.codes[:2]} == {fetched.record.expires_at_ms}


async def test_a_failed_resend_gives_the_verification_back_its_earlier_end(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one()  # 600 s
    first = await store.fetch(tag=TAG, service="login", verification_id=vid)
    store.clock_offset_ms = 10_000
    longer = await resend(store, "h2", 3600)
    assert longer.record.expires_at_ms > first.record.expires_at_ms
    failed = await store.record_sends(
        tag=TAG, verification_id=vid, attempts=[], sent=False, code_hash="h2", retention=60
    )
    assert failed.record.code_hashes == ("h",)
    assert failed.record.expires_at_ms == first.record.expires_at_ms


async def test_a_resend_of_another_shape_changes_nothing(store: Store, start_one: StartOne) -> None:
    vid = await start_one()  # numeric, 6
    refused = await resend(store, "h4", 600, token_length=4)
    assert (refused.outcome, refused.shape, refused.record) == ("reshape", ("numeric", 6), None)
    refused = await resend(store, "hA", 600, token_type="alphanumeric")
    assert refused.shape == ("numeric", 6)
    fetched = await store.fetch(tag=TAG, service="login", verification_id=vid)
    assert (fetched.record.send_count, fetched.record.code_hashes) == (1, ("h",))
    # Without same_shape (test numbers, delegated markers) the resend goes through.
    assert (await resend(store, "hx", 600, token_length=4, same_shape=False)).outcome == "resent"


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
