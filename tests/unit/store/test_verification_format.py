"""The verification hash's current format (issue 22): short field names, one field per code
(CodeHasher's 52-character form) and per send attempt (packed), every value within Redis's
default `hash-max-listpack-value` (64), so the hash stays a listpack; the scripts' smaller
replies agree with a full read; and verifications written by the previous version (long
names, argon2's encoded strings, JSON send lines) still check, resend and take delivery
reports after an upgrade."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeVerifs
from tests.support.first_format import first_format
from tests.support.helpers import sent_code
from tests.support.redis_server import RedisServer
from tests.unit.store.conftest import RETENTION, TAG, TO, StartOne
from verify_service.api.app import build_components
from verify_service.config import Settings
from verify_service.domain.hashing import CodeHasher, HashParams
from verify_service.domain.model import SendAttempt, StartParams
from verify_service.store import Store, keys
from verify_service.store.records import escape, pack_attempt, unpack_attempt

LISTPACK_VALUE = 64  # Redis's default hash-max-listpack-value
MESSAGE_ID = "ver_0123456789abcdef0123456789abcdef.1"  # the capture provider's: 38 chars

texts = st.text(st.characters(codec="utf-8"), max_size=40)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@given(
    at=moments,
    provider=texts.filter(bool),
    message_id=st.none() | texts.filter(bool),
    status=st.sampled_from(["sent", "failed", "delivered", "undelivered"]),
    error=st.none() | texts.filter(bool),
    channel=st.sampled_from(["sms", "whatsapp", "voice", "email", "rcs"]),
)
def test_a_packed_attempt_reads_back_as_it_was(
    at: datetime,
    provider: str,
    message_id: str | None,
    status: Any,
    error: str | None,
    channel: str,
) -> None:
    attempt = SendAttempt(at, provider, message_id, status, error, channel).to_json()
    packed = pack_attempt(attempt)
    assert "\n" not in packed
    assert "\r" not in packed
    assert unpack_attempt(packed) == attempt
    assert SendAttempt.from_json(unpack_attempt(packed)).at == at


def test_a_usual_attempt_fits_a_listpack_value() -> None:
    at = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    for channel in ("sms", "whatsapp", "voice", "email"):
        for status in ("sent", "delivered", "undelivered"):
            attempt = SendAttempt(at, "twilio-eu", MESSAGE_ID, status, None, channel)
            assert len(pack_attempt(attempt.to_json())) <= LISTPACK_VALUE


def test_a_first_format_json_attempt_still_reads() -> None:
    attempt = SendAttempt(datetime(2026, 1, 1, tzinfo=UTC), "a", "m|1", "sent").to_json()
    assert unpack_attempt(json.dumps(attempt)) == attempt


@given(code=st.text("0123456789", min_size=4, max_size=10), other=st.text("0123456789ABC"))
def test_the_stored_hash_checks_its_code_only(code: str, other: str) -> None:
    hasher = CodeHasher(b"p" * 32, HashParams(time_cost=1, memory_cost_kib=8, parallelism=1))
    stored = hasher.hash(code, "scope")
    assert len(stored) <= LISTPACK_VALUE
    assert hasher.matches(code, "scope", [stored])
    assert hasher.matches(other, "scope", [stored]) == (other == code)


async def test_replies_of_state_changes_agree_with_a_full_read(
    store: Store, start_one: StartOne
) -> None:
    """start (created), record_send and finish reply only what the caller lacks; merged
    into the caller's record they equal what a fetch reads."""

    async def fetched(vid: str) -> Any:
        return (await store.fetch(tag=TAG, service="login", verification_id=vid)).record

    started = await store.start(
        tag=TAG, new_id=keys.new_id(TAG), service="login", to=TO, expires_in=600,
        max_check_attempts=2, max_send_attempts=3, resend_cooldown=0, retention=RETENTION,
        token_type="numeric", token_length=6, channel="sms", metadata={"k": "v"},
    )  # fmt: skip
    base = started.record
    assert base is not None
    full = await fetched(base.id)
    assert base == full.__class__(**{**_fields(full), "now_ms": base.now_ms})
    attempt = SendAttempt(datetime.now(UTC), "capture", MESSAGE_ID, "sent").to_json()
    sent = await store.record_sends(
        tag=TAG, verification_id=base.id, attempts=[attempt], sent=True, code_hash="h" * 52,
        retention=RETENTION, code_expires_at_ms=base.now_ms + 600_000, base=base,
    )  # fmt: skip
    assert sent.record is not None
    assert _fields(sent.record) == _fields(await fetched(base.id))
    assert sent.record.sends == (attempt,)
    reserved = await store.reserve(tag=TAG, service="login", verification_id=base.id, retention=1)
    assert reserved.record is not None

    async def approve() -> Any:
        return await store.finish(
            tag=TAG, verification_id=base.id, status="approved", retention=RETENTION,
            base=reserved.record,
        )  # fmt: skip

    finished = await approve()
    assert finished.outcome == "changed"
    assert finished.record is not None
    assert _fields(finished.record) == _fields(await fetched(base.id))
    assert finished.record.codes == ()
    again = await approve()
    assert again.outcome == "unchanged"
    assert again.record is not None
    assert again.record.status == "approved"


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__ if name != "now_ms"}


async def test_the_hash_stays_a_listpack_under_default_redis_conf(
    redis_server: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """Through the use cases on a real redis-server as shipped: a start, two resends and a
    wrong check; every field and value within 64 bytes, so Redis keeps the listpack."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    assert (await client.config_get("hash-max-listpack-value")) == {
        "hash-max-listpack-value": str(LISTPACK_VALUE)
    }
    store = Store(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
    await store.load_scripts()
    v = build_components(make_settings(), store)
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO, metadata={"a": "b"}))
    for _ in range(2):
        await v.verifications.start(service, StartParams(to=TO))
    await v.verifications.check(service, to=TO, code="000000")
    vkey = keys.verification_key(keys.tag_of_id(started.id) or "", started.id)
    stored = await client.hgetall(vkey)
    assert len([k for k in stored if k.startswith("c:")]) == 3
    assert len([k for k in stored if k.startswith("s:")]) == 3
    assert max(len(x.encode()) for x in [*stored, *stored.values()]) <= LISTPACK_VALUE
    assert await client.object("encoding", vkey) == "listpack"
    await client.aclose()
    await store.aclose()


async def test_a_verification_of_the_previous_version_checks_after_the_upgrade(
    store: Store, make_verifs: MakeVerifs
) -> None:
    """Rewrite a pending verification as the previous version stored it (long names,
    argon2's encoded hash, JSON send lines): the right code still approves, a delivery
    report still lands on its send, a resend adds a code next to the old one, and the
    scripts leave it in the current format."""
    v = make_verifs()
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO))
    code = sent_code(v, TO)
    tag = keys.tag_of_id(started.id)
    assert tag is not None
    vkey = keys.verification_key(tag, started.id)
    record = (await store.fetch(tag=tag, service="login", verification_id=started.id)).record
    assert record is not None
    hasher = CodeHasher(v.settings.pepper_bytes(), v.settings.hashing.params())
    legacy_hash = hasher._hash(code, v.settings.pepper_bytes(), hasher.salt_for(tag), hasher.params)
    assert legacy_hash.startswith("$argon2id$")
    [sent] = record.sends
    old_send = {**sent, "message_id": "SMold|1"}
    ttl = await store.client.pttl(vkey)
    await store.client.delete(vkey)
    old_fields = first_format(
        record,
        codes=f"{record.codes[0].expires_at_ms} {legacy_hash}",
        sends=json.dumps(old_send, separators=(",", ":")),
    )
    await store.client.hset(vkey, mapping=old_fields)
    await store.client.pexpire(vkey, ttl)
    await store.client.set(keys.message_key("capture", "SMold|1"), started.id, px=ttl)

    fetched = await v.verifications.fetch(service, started.id)
    assert fetched.status == "pending"
    assert [(a.provider, a.message_id) for a in fetched.send_attempts] == [("capture", "SMold|1")]
    upgraded = await store.client.hgetall(vkey)
    assert "service" not in upgraded
    assert upgraded["sv"] == "login"
    assert upgraded[f"c:{record.codes[0].expires_at_ms}"] == legacy_hash
    assert 0 < await store.client.pttl(vkey) <= ttl

    undelivered = ("SMold|1", "undelivered", "no|route")
    (applied,) = await store.apply_reports("capture", [undelivered])
    # the attempt log finds its record by the send's time, whichever format stored it
    assert (applied.outcome, applied.service, applied.verification_id) == (
        "changed",
        "login",
        started.id,
    )
    assert applied.sent_at_ms is not None
    failed = (await v.verifications.fetch(service, started.id)).send_attempts[0]
    assert (failed.status, failed.error) == ("undelivered", "no|route")
    delivered = await store.apply_reports("capture", [("SMold|1", "delivered", None)])
    assert [a.outcome for a in delivered] == ["changed"]
    resent = await v.verifications.start(service, StartParams(to=TO))
    assert resent.id == started.id
    assert [a.status for a in resent.send_attempts] == ["delivered", "sent"]
    assert (await v.verifications.check(service, to=TO, code="000000")).valid is False
    checked = await v.verifications.check(service, to=TO, code=code)  # the old code
    assert (checked.valid, checked.status) == (True, "approved")


async def test_an_upgraded_verification_keeps_its_codes_expiry_and_ttl(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one()
    vkey = keys.verification_key(TAG, vid)
    record = (await store.fetch(tag=TAG, service="login", verification_id=vid)).record
    assert record is not None
    later = record.expires_at_ms + 5000
    await store.client.delete(vkey)
    await store.client.hset(
        vkey, mapping=first_format(record, codes=f"{later} x\nnoexpiry", metadata="{}")
    )
    await store.client.pexpire(vkey, 700_000)
    reserved = await store.reserve(tag=TAG, service="login", verification_id=vid, retention=1)
    assert reserved.outcome == "reserved"
    assert reserved.record is not None
    codes = {(c.hash, c.expires_at_ms) for c in reserved.record.codes}
    assert codes == {("x", later), ("noexpiry", record.expires_at_ms)}
    assert reserved.record.check_attempts == 1
    assert "md" not in await store.client.hgetall(vkey)  # an empty metadata is not stored
    assert 690_000 < await store.client.pttl(vkey) <= 700_000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.integers(1, 900),
    steps=st.lists(
        st.tuples(st.integers(0, 120_000), st.integers(1, 900), st.booleans()), max_size=6
    ),
)
async def test_resends_keep_the_live_codes_and_end_with_the_latest(
    first: int, steps: list[tuple[int, int, bool]]
) -> None:
    """Any run of resends (clock moves, each code's own lifetime, sent or failed): the
    stored codes are those a model keeps (a sent code drops the expired ones; a failed send
    changes none), the verification ends with its latest live code, and it fails only
    when a send fails with no code at all."""
    store = Store.embedded()
    await store.load_scripts()

    async def reserve(expires_in: int) -> Any:
        return await store.start(
            tag=TAG, new_id=keys.new_id(TAG), service="login", to=TO, expires_in=expires_in,
            max_check_attempts=5, max_send_attempts=100, resend_cooldown=0,
            retention=RETENTION, token_type="numeric", token_length=6, channel="sms",
            metadata={},
        )  # fmt: skip

    started = await reserve(first)
    base = started.record
    recorded = await store.record_sends(
        tag=TAG, verification_id=base.id, attempts=[], sent=True, code_hash="h0",
        retention=RETENTION, code_expires_at_ms=base.now_ms + first * 1000, base=base,
    )  # fmt: skip
    model = {"h0": base.now_ms + first * 1000}
    for i, (advance, expires_in, sent) in enumerate(steps, 1):
        store.clock_offset_ms += advance
        reserved = await reserve(expires_in)
        if reserved.outcome != "resent":  # the model's verification ended: a new one began
            assert reserved.outcome == "created"
            assert reserved.record.now_ms >= max(model.values())
            break
        now = reserved.record.now_ms
        recorded = await store.record_sends(
            tag=TAG, verification_id=base.id, attempts=[], sent=sent, code_hash=f"h{i}",
            retention=RETENTION, code_expires_at_ms=now + expires_in * 1000,
            base=reserved.record,
        )  # fmt: skip
        if sent:
            model = {h: e for h, e in model.items() if e > recorded.record.now_ms}
            model[f"h{i}"] = now + expires_in * 1000
        record = recorded.record
        assert {c.hash: c.expires_at_ms for c in record.codes} == model
        assert record.expires_at_ms == max(model.values())
        assert record.status == "pending"
        fetched = await store.fetch(tag=TAG, service="login", verification_id=base.id)
        assert fetched.record.codes == record.codes
    await store.aclose()


async def test_a_report_on_a_packed_attempt_names_its_service_and_time(
    store: Store, start_one: StartOne
) -> None:
    """report.lua's reply for the attempt log (where it keeps the attempt's record): the
    service and the attempt's `at` as stored (base-36 ms when packed)."""
    vid = await start_one()
    at = datetime(2026, 11, 30, 20, 0, 0, 123000, tzinfo=UTC)
    attempt = SendAttempt(at, "a|b", "m%1", "sent").to_json()
    await store.record_sends(
        tag=TAG, verification_id=vid, attempts=[attempt], sent=False, code_hash="",
        retention=RETENTION, code_expires_at_ms=0,
    )  # fmt: skip
    args = (vid, escape("a|b"), escape("m%1"), "undelivered", escape("no|route"), "a|b", "m%1", "")
    reply = await store._run("report", TAG, *args)
    assert reply == ["changed", "login", pack_attempt(attempt).split("|", 1)[0]]
    assert int(reply[2], 36) == (at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000
    fetched = await store.fetch(tag=TAG, service="login", verification_id=vid)
    assert fetched.record is not None
    assert fetched.record.sends[-1] == {**attempt, "status": "undelivered", "error": "no|route"}
    assert await store._run("report", TAG, *args) == ["unchanged"]
