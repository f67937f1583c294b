"""The script registry: every Lua script goes through store/scripts.py with the shared
prelude, is loaded once, survives a lost script cache, and names its arguments first.
Also the one script that ends a pending verification (approve and cancel)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import verify_service
from tests.unit.store.conftest import RETENTION, TAG, TO, StartOne
from verify_service.abuse.fraud import guard_args
from verify_service.config.abuse import FraudGuard
from verify_service.domain.errors import VerifyError
from verify_service.store import Store, keys, scripts
from verify_service.store.fraud import FraudStore
from verify_service.store.limiter import ALLOWED
from verify_service.store.outbox import OutboxStore
from verify_service.store.scripts import Call

SCRIPTS = Path(verify_service.__file__).parent / "store" / "scripts"


# Scripts with a file of their own (a chain script is chain.lua after its parts).
OWN_FILES = [name for name in scripts.NAMES if name not in scripts.CHAINS or name == "chain"]


def test_every_script_file_is_in_the_registry() -> None:
    on_disk = {p.stem for p in SCRIPTS.glob("*.lua")}
    assert on_disk == {scripts.PRELUDE, *OWN_FILES}
    # the merged script replaced these two
    assert not {"approve", "cancel"} & on_disk


def test_every_script_runs_after_the_prelude() -> None:
    prelude = (SCRIPTS / "_prelude.lua").read_text()
    runner = (SCRIPTS / "chain.lua").read_text()
    for name in scripts.NAMES:
        if name in scripts.CHAINS:  # the prelude, then the parts, each its script's own text
            source = scripts.source(name)
            assert source.startswith(f"{prelude}\n")
            assert source.endswith(runner)
            for part in scripts.CHAINED:
                text = (SCRIPTS / f"{part}.lua").read_text()
                function = f"local function part_{part}(KEYS, ARGV)\n{text}\nend\n"
                assert (function in source) == (part in scripts.CHAINS[name])
            continue
        own = (SCRIPTS / f"{name}.lua").read_text()
        assert scripts.source(name) == f"{prelude}\n{own}"
    with pytest.raises(KeyError):
        scripts.source("approve")


# `local name = ARGV[n]`, optionally through tonumber() and a unit factor, and a comment
_NAMED = re.compile(
    r"^local \w+ = (tonumber\()?(ARGV|KEYS)\[\d+\]\)?( \* 1000)?\s*(--.*)?$",
)


@pytest.mark.parametrize("name", OWN_FILES)
def test_arguments_are_named_at_the_top(name: str) -> None:
    lines = (SCRIPTS / f"{name}.lua").read_text().splitlines()
    uses = [i for i, line in enumerate(lines) if re.search(r"\b(ARGV|KEYS)\[", line)]
    assert uses, "a script without arguments"
    for i in uses:
        assert _NAMED.match(lines[i]), f"{name}.lua:{i + 1}: {lines[i]}"
    header = lines[: uses[-1] + 1]
    assert all(line.startswith(("--", "local ")) or not line for line in header), name


def _counted(key: str, limit: int = 1) -> Call:
    """A ratelimit.lua call counting one request in a window of `limit` a minute."""
    args = [0, 1, f"m{limit}/60000", "m", limit, 60000]
    return Call("ratelimit", [keys.rate_key(key)], args, goes_on=ALLOWED)


def _started(new_id: str) -> Call:
    args = [0, new_id, "login", TO, 600, 3, 3, 0, RETENTION, "numeric", 6, "sms", ""]
    return Call("start", [keys.prefix(TAG)], args)


@pytest.mark.parametrize("together", [True, False])
async def test_a_chain_runs_its_calls_while_each_lets_the_next_go_on(
    store: Store, together: bool
) -> None:
    """Scripts.chain: in order, each call only when the one before began its reply with
    one of its `goes_on` words; the replies of those that ran. As one script on one
    server (`together`) or one call each (a Cluster): the same replies, the same state."""
    first = keys.new_id(TAG)
    replies = await store.scripts.chain(
        [_counted("{a}"), _counted("{b}", 2), _started(first)], together=together
    )
    assert [r[0] for r in replies] == [0, 0, "created"]
    assert await store.client.get(keys.last_key(TAG)) == first
    # {a} is full: the chain stops there; {b} counts nothing, the start does not happen
    again = await store.scripts.chain(
        [_counted("{a}"), _counted("{b}", 2), _started(keys.new_id(TAG))], together=together
    )
    assert len(again) == 1
    assert again[0][:3] == [1, 1, 1]
    assert await store.client.hget(keys.rate_key("{b}"), "m2/60000") is not None
    assert len((await store.client.hget(keys.rate_key("{b}"), "m2/60000")).split()) == 1
    assert await store.client.get(keys.last_key(TAG)) == first


async def test_load_registers_every_script_once(store: Store) -> None:
    """The fixture ran `load_scripts`: the server knows each script as prelude + body."""
    shas = [store.scripts[name].sha for name in scripts.NAMES]
    expected = [hashlib.sha1(scripts.source(n).encode()).hexdigest() for n in scripts.NAMES]
    assert shas == expected
    assert await store.client.script_exists(*shas) == [True] * len(shas)


async def test_a_lost_script_cache_is_reloaded_for_every_caller(
    store: Store, start_one: StartOne
) -> None:
    """Redis restarted without its script cache: each kind of caller (verifications, the
    pumping guard, the test outbox) still gets its answer, and the scripts are back."""
    await store.client.script_flush()
    vid = await start_one()
    assert (await store.fetch(tag=TAG, service="login", verification_id=vid)).outcome == "ok"
    guard, args = FraudStore(store), guard_args(FraudGuard())
    verdict = await guard.start(
        "login",
        ["*", "+41"],
        ["service", "country"],
        [3.0, 3.0],
        [],
        args,
        allowed=False,
        number_id="n",
    )
    assert verdict.state == "ok"
    await guard.approved("login", ["*", "+41"], args)
    outbox = OutboxStore(store.client)
    await outbox.push(TO, {"body": "x"})
    assert await outbox.newest_first(TO) == [{"body": "x"}]
    used = ["start", "fetch", "fraud_start", "fraud_approve", "outbox_push"]
    shas = [hashlib.sha1(scripts.source(n).encode()).hexdigest() for n in used]
    assert await store.client.script_exists(*shas) == [True] * len(shas)


async def _end(store: Store, vid: str, status: str, service: str = "login") -> tuple[str, str]:
    ended = await store.end_pending(
        tag=TAG, service=service, verification_id=vid, status=status, retention=RETENTION
    )
    stored = await store.client.hget(keys.verification_key(TAG, vid), "st")
    return ended.outcome, stored or "gone"


@pytest.mark.parametrize("status", ["approved", "canceled"])
async def test_end_pending_ends_a_pending_verification_once(
    store: Store, start_one: StartOne, status: str
) -> None:
    vid = await start_one()
    ended = await store.end_pending(
        tag=TAG, service="login", verification_id=vid, status=status, retention=RETENTION
    )
    assert ended.outcome == status
    assert ended.record is not None
    assert (ended.record.status, ended.record.code_hashes) == (status, ())
    ttl = await store.client.pttl(keys.verification_key(TAG, vid))
    assert (RETENTION - 5) * 1000 < ttl <= RETENTION * 1000
    assert await _end(store, vid, "approved") == ("not_pending", status)
    assert await _end(store, vid, "canceled") == ("not_pending", status)
    assert await _end(store, vid, status, service="other") == ("not_found", status)


@pytest.mark.parametrize("status", ["approved", "canceled"])
async def test_end_pending_records_an_expiry_it_finds(
    store: Store, start_one: StartOne, status: str
) -> None:
    vid = await start_one()
    store.clock_offset_ms = 601_000
    assert await _end(store, vid, status) == ("expired", "expired")
    assert await _end(store, vid, status) == ("not_pending", "expired")


async def test_out_of_attempts_can_be_canceled_not_approved(
    store: Store, start_one: StartOne
) -> None:
    vid = await start_one(max_check_attempts=1)
    reserved = await store.reserve(tag=TAG, service="login", verification_id=vid, retention=1)
    assert reserved.outcome == "reserved"
    assert await _end(store, vid, "approved") == ("not_pending", "pending")
    assert await _end(store, vid, "canceled") == ("canceled", "canceled")


async def test_end_pending_refuses_any_other_status(store: Store, start_one: StartOne) -> None:
    vid = await start_one()
    with pytest.raises(VerifyError):
        await _end(store, vid, "expired")
    assert await store.client.hget(keys.verification_key(TAG, vid), "st") == "pending"


def _index(key: str) -> Call:
    """A message_index.lua call: `key` names verification "v" for a minute."""
    return Call("message_index", [key], ["v", 60_000], goes_on=(scripts.ANY,), guarded=True)


@pytest.mark.parametrize("together", [True, False])
async def test_guarded_parts_reply_their_failure_and_the_chain_goes_on(
    store: Store, start_one: StartOne, together: bool
) -> None:
    """A guarded part that raises replies [PART_FAILED, message] (the writes of the parts
    before it stand); the next part runs when the failed one's words allow it (ANY) and
    not otherwise; a reply that is not a list (attempts_add's 'ok') goes on under ANY."""
    vid = await start_one()
    await store.client.set("{x}broken", "a string, not a hash")
    record = Call(
        "record_send",
        [keys.prefix(TAG)],
        [0, vid, "", "0", "", RETENTION, 0, "0"],
        goes_on=(scripts.ANY,),
    )
    broken = Call("message_index", ["{x}broken"], ["v", "not a number"], (scripts.ANY,), True)
    replies = await store.scripts.chain(
        [record, broken, _index("{x}a"), _index("{x}b")], together=together
    )
    assert replies[0][0] == "ok"
    assert replies[1][0] == scripts.PART_FAILED
    assert scripts.failed(replies[1])
    assert replies[2:] == [["ok"], ["ok"]]
    assert await store.client.get("{x}a") == "v"
    # the same failure without ANY among its words: the chain stops there
    stops = Call("message_index", ["{x}broken"], ["v", "not a number"], ("ok",), True)
    replies = await store.scripts.chain([record, stops, _index("{x}c")], together=together)
    assert len(replies) == 2
    assert scripts.failed(replies[1])
    assert await store.client.get("{x}c") is None
