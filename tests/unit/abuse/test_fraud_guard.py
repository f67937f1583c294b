"""The pumping guard through the start and check use cases, on fakeredis and a real
redis-server: the narrowest range that pumping explains is blocked (403 fraud_suspected),
real users elsewhere keep getting codes, blocks are shared, end, come back longer,
and operators can lift them and allow-list ranges."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.abuse_helpers import NO_LIMITS
from tests.support.helpers import sent_code
from verify_service.abuse.fraud import MODES
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store, keys

MakeSettings = Callable[..., Settings]
STANDARD = MODES["standard"]


def pumped(i: int) -> str:
    """Sequential numbers of one DE range, the shape of a pumping list."""
    return f"+49152110000{i:02d}"


def real_de(i: int) -> str:
    return f"+49176{(i * 7919) % 10**8:08d}"  # spread over +49 176


def swiss(i: int) -> str:
    return f"+4179{(i * 104729) % 10**7:07d}"


def numbers(prefix: str, digits: int, count: int, step: int = 7_654_321) -> list[str]:
    """`count` valid numbers `prefix` + `digits` digits, scattered over the range."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        i += 1
        e164 = f"{prefix}{(i * step) % 10**digits:0{digits}d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            found.append(e164)
    return found


def components(store: Store, make_settings: MakeSettings, **guard: Any) -> Components:
    settings = make_settings(service={"rate_limits": NO_LIMITS, "fraud_guard": guard})
    return build_components(settings, store)


async def start(v: Components, to: str) -> str:
    try:
        await v.verifications.start(v.settings.services[0], StartParams(to=to))
    except VerifyError as exc:
        return exc.code
    return "sent"


async def approve(v: Components, to: str) -> None:
    code = sent_code(v, to)
    assert (await v.verifications.check(v.settings.services[0], to=to, code=code)).valid


async def pump_until_blocked(v: Components) -> int:
    """Sequential numbers until the guard refuses one; how many were sent."""
    for i in range(40):
        if await start(v, pumped(i)) != "sent":
            return i
    raise AssertionError("never blocked")


async def history(v: Components, count: int = 12) -> None:
    """Real users in CH and DE who approve their codes."""
    for i in range(count):
        for to in (swiss(i), real_de(i)):
            assert await start(v, to) == "sent"
            await approve(v, to)


async def test_a_sequential_run_blocks_its_100_block_and_nothing_else(
    store: Store, make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    v = components(store, make_settings)
    await history(v)
    with caplog.at_level(logging.WARNING, "verify_service.abuse"):
        outcomes = [await start(v, pumped(i)) for i in range(20)]
    sent = outcomes.count("sent")
    assert 3 <= sent <= 6  # a run of unconverted starts in 100 numbers: a few, not 30
    assert outcomes == ["sent"] * sent + ["fraud_suspected"] * (20 - sent)
    assert "blocks +49152110000 (block_100, DE)" in caplog.text
    assert pumped(1) not in caplog.text

    with pytest.raises(VerifyError) as info:
        await v.verifications.start(v.settings.services[0], StartParams(to=pumped(40)))
    assert info.value.status == 403
    assert 1 <= (info.value.retry_after or 0) <= STANDARD.cooldown
    assert info.value.extra == {"country": "DE"}
    assert "+49152110000" not in info.value.detail  # the caller does not learn the range
    # the rest of DE, and CH, are untouched
    assert await start(v, real_de(50)) == "sent"
    assert await start(v, "+4915211000100") == "sent"  # the next 100-block
    assert await start(v, swiss(50)) == "sent"
    capture = v.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    assert len([m for m in capture.messages if m.to.startswith("+4915211000")]) == sent + 1

    metrics = v.metrics.render().decode()
    assert (
        'verify_fraud_guard_trips_total{country="DE",level="block_100",service="login"} 1.0'
        in metrics
    )
    refused = 20 - sent + 1
    assert (
        f'verify_blocks_total{{country="DE",reason="fraud_suspected",service="login"}} '
        f"{refused}.0" in metrics
    )


async def test_the_block_is_shared_comes_back_twice_as_long_and_ends(
    store: Store, make_settings: MakeSettings
) -> None:
    first = components(store, make_settings)
    await history(first)
    sent = await pump_until_blocked(first)
    second = components(store, make_settings)  # another worker on the same Redis
    assert await start(second, pumped(sent + 1)) == "fraud_suspected"
    store.clock_offset_ms += (STANDARD.cooldown + 1) * 1000  # Redis time, past the block
    # A range blocked before, still without a single approval: blocked again at once,
    # for twice as long.
    with pytest.raises(VerifyError) as info:
        await second.verifications.start(second.settings.services[0], StartParams(to=pumped(30)))
    assert info.value.retry_after is not None
    assert STANDARD.cooldown < info.value.retry_after <= 2 * STANDARD.cooldown
    # Once the block and its memory (a day) are over, the range is judged afresh.
    store.clock_offset_ms += (2 * STANDARD.cooldown + 86400 + 1) * 1000
    assert await start(second, pumped(31)) == "sent"


async def test_the_service_alert_ends_with_the_first_cool_down(
    store: Store, make_settings: MakeSettings
) -> None:
    """A block alerts the whole service for a cool-down: every range is judged more
    readily, so three unapproved codes to one block of a million Swiss numbers are
    refused while it lasts. After it, the same is no alarm: real users who have not
    approved yet, in a country the attack never touched, are not refused for a day after
    someone else's block (seed 22 of bench/fraud_sim.py refused one US user that way)."""
    v = components(store, make_settings)
    await history(v)
    store.clock_offset_ms += 2 * 3600 * 1000  # the history is older than the recent window
    await pump_until_blocked(v)  # DE: a 100-block, the first block, one cool-down long
    during = numbers("+41775", 6, 3)
    assert [await start(v, to) for to in during] == ["sent", "sent", "fraud_suspected"]

    v = components(store, make_settings)
    await store.client.flushdb()
    await history(v)
    store.clock_offset_ms += 2 * 3600 * 1000
    await pump_until_blocked(v)
    store.clock_offset_ms += (STANDARD.cooldown + 60) * 1000  # the block has ended
    after = numbers("+41775", 6, 5)
    assert [await start(v, to) for to in after] == ["sent"] * len(after)
    assert await start(v, pumped(39)) == "fraud_suspected"  # the range itself: at once

    # A trip made under the alert (judged with its lower bar) does not prolong it: the
    # alert ends one cool-down after the trip that raised it.
    v = components(store, make_settings)
    await store.client.flushdb()
    await history(v)
    store.clock_offset_ms += 2 * 3600 * 1000
    await pump_until_blocked(v)
    store.clock_offset_ms += (STANDARD.cooldown - 600) * 1000
    nearby = [f"+49152110001{i:02d}" for i in range(40)]  # the next 100-block
    outcomes = [await start(v, to) for to in nearby]
    assert "fraud_suspected" in outcomes
    store.clock_offset_ms += 660 * 1000  # one cool-down and a minute after the first trip
    users = numbers("+41775", 6, 5)
    assert [await start(v, to) for to in users] == ["sent"] * len(users)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(strikes=st.integers(1, 4), after=st.integers(1, 6 * 3600))
async def test_the_alert_ends_one_cool_down_after_the_last_trip_however_long_the_block(
    store: Store, make_settings: MakeSettings, strikes: int, after: int
) -> None:
    """However often a range was blocked again (each block twice as long), the service is
    alerted for one first cool-down from the last trip, no longer: then real users who
    have not approved yet in a block of a million Swiss numbers pass, while the pumped
    range stays blocked for its own, longer, time."""
    await store.client.flushdb()
    v = components(store, make_settings)
    await history(v)
    store.clock_offset_ms += 2 * 3600 * 1000
    await pump_until_blocked(v)
    for strike in range(2, strikes + 1):  # each block ends, the next start blocks it again
        store.clock_offset_ms += (STANDARD.cooldown * 2 ** (strike - 2) + 1) * 1000
        assert await start(v, pumped(40 + strike)) == "fraud_suspected"
    assert v.fraud is not None
    [block] = (await v.fraud.list_blocks(v.settings.services[0])).blocks
    assert block.strikes == strikes
    store.clock_offset_ms += (STANDARD.cooldown + after) * 1000
    users = numbers("+41775", 6, 5)
    assert [await start(v, to) for to in users] == ["sent"] * len(users)
    if STANDARD.cooldown + after < STANDARD.cooldown * 2 ** (strikes - 1):
        assert await start(v, pumped(60)) == "fraud_suspected"  # its own, longer block


async def test_a_country_blocked_before_is_blocked_again_on_less_evidence(
    store: Store, make_settings: MakeSettings
) -> None:
    """Random numbers all over DE (the attacker who wants the country blocked) block +49;
    when that block ends the country, blocked within the last day, is judged at the
    suspect confidence like any range blocked before: blocked again within a few starts
    (the service's alert no longer outlasts the first cool-down to do that). Real DE
    users whose range has a record keep getting codes under both blocks."""
    v = components(store, make_settings)
    await history(v)
    store.clock_offset_ms += 2 * 3600 * 1000
    spray = iter(to for to in numbers("+49", 10, 200, step=7_654_321) if to[3] != "1")

    async def spray_until_blocked() -> int:
        for sent, to in enumerate(spray):
            if await start(v, to) != "sent":
                return sent
        raise AssertionError("never blocked")

    first = await spray_until_blocked()
    assert v.fraud is not None
    [block] = (await v.fraud.list_blocks(v.settings.services[0])).blocks
    assert (block.range, block.strikes) == ("+49", 1)
    assert await start(v, real_de(90)) == "sent"
    store.clock_offset_ms += (STANDARD.cooldown + 60) * 1000
    again = await spray_until_blocked()
    assert again <= 2 < first
    [block] = (await v.fraud.list_blocks(v.settings.services[0])).blocks
    assert (block.range, block.strikes) == ("+49", 2)
    assert await start(v, real_de(91)) == "sent"


async def test_a_new_country_gets_a_small_allowance_that_grows_with_approvals(
    store: Store, make_settings: MakeSettings
) -> None:
    v = components(store, make_settings)
    # Approved codes: the allowance grows with them, nothing is ever blocked.
    for i in range(30):
        assert await start(v, swiss(i)) == "sent"
        await approve(v, swiss(i))
    # A country this service never sent to, random ranges, nothing approved.
    french = numbers("+336", 8, 20)
    outcomes = [await start(v, to) for to in french]
    assert outcomes[: int(STANDARD.new_allowance)] == ["sent"] * int(STANDARD.new_allowance)
    assert outcomes[-1] == "fraud_suspected"
    assert await start(v, swiss(99)) == "sent"


async def test_a_range_with_a_record_of_its_own_passes_a_broader_block(
    store: Store, make_settings: MakeSettings
) -> None:
    v = components(store, make_settings)
    await history(v)
    # Real users in one block of a million Berlin numbers (+49 3012…) approve their codes.
    berlin_regulars = numbers("+493012", 6, 8, step=104_729)
    for to in berlin_regulars[:5]:
        assert await start(v, to) == "sent"
        await approve(v, to)
    # Then someone sends to random Berlin numbers and never approves.
    attack = numbers("+4930", 8, 60, step=1_234_567)
    outcomes = [await start(v, to) for to in attack if not to.startswith("+493012")]
    assert "fraud_suspected" in outcomes
    first = outcomes.index("fraud_suspected")
    assert first <= 45
    assert set(outcomes[first:]) == {"fraud_suspected"}
    assert v.fraud is not None
    state = await v.fraud.list_blocks(v.settings.services[0])
    assert [b.range for b in state.blocks] == ["+4930"]
    # Berlin is blocked, yet the block with a record of its own gets codes...
    assert await start(v, berlin_regulars[6]) == "sent"
    # ...a Berlin number without one does not, and the rest of DE is untouched.
    assert await start(v, "+493099123456") == "fraud_suspected"
    assert await start(v, real_de(77)) == "sent"


async def test_operators_lift_blocks_and_allow_list_ranges(
    store: Store, make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    v = components(store, make_settings)
    assert v.fraud is not None
    service = v.settings.services[0]
    await history(v)
    await pump_until_blocked(v)
    overview = await v.fraud.list_blocks(service)
    [block] = overview.blocks
    assert (block.range, block.level, block.country, block.strikes) == (
        "+49152110000",
        "block_100",
        "DE",
        1,
    )
    assert block.starts >= STANDARD.min_starts
    assert block.approvals == 0
    assert block.refused == 1
    assert 0.6 < block.baseline_conversion <= 1.0

    with caplog.at_level(logging.WARNING, "verify_service.abuse"):
        lifted = await v.fraud.lift(service, "+49152110000", "alice")
    assert lifted.range == "+49152110000"
    assert "alice lifted the block of +49152110000" in caplog.text
    assert await start(v, pumped(20)) == "sent"  # the counts that caused it are gone
    with pytest.raises(VerifyError) as info:
        await v.fraud.lift(service, "+49152110000", "alice")
    assert info.value.code == "not_found"

    allowed = await v.fraud.allow(service, "491521100", "alice")
    assert (allowed.range, allowed.actor) == ("+491521100", "alice")
    assert [await start(v, pumped(10 + i)) for i in range(15)] == ["sent"] * 15
    assert (await v.fraud.list_blocks(service)).blocks == []
    await v.fraud.unallow(service, "+491521100", "alice")
    outcomes = [await start(v, pumped(40 + i)) for i in range(6)]
    assert "fraud_suspected" in outcomes
    metrics = v.metrics.render().decode()
    for action in ("lift", "allow", "unallow"):
        assert (
            f'verify_fraud_operator_actions_total{{action="{action}",country="DE",'
            f'service="login"}} 1.0' in metrics
        )


async def test_config_allow_list_is_never_blocked(
    store: Store, make_settings: MakeSettings
) -> None:
    v = components(store, make_settings, allowed_prefixes=["+4915211"])
    assert [await start(v, pumped(i)) for i in range(25)] == ["sent"] * 25
    assert v.fraud is not None
    overview = await v.fraud.list_blocks(v.settings.services[0])
    assert [(a.range, a.actor) for a in overview.allowed] == [("+4915211", "config")]


async def test_the_guard_can_be_switched_off(store: Store, make_settings: MakeSettings) -> None:
    v = components(store, make_settings, enabled=False)
    assert [await start(v, pumped(i)) for i in range(25)] == ["sent"] * 25
    assert [k async for k in store.client.scan_iter("vs:fraud:*")] == []


async def test_memory_is_bounded_and_every_key_is_one_slot_with_a_ttl(
    store: Store, make_settings: MakeSettings
) -> None:
    v = components(store, make_settings, max_ranges=100, allowed_prefixes=["+41"])
    for i in range(60):  # each a new 1M, 10k and 100 block: ~180 ranges offered
        await start(v, swiss(i * 31))
    k = keys.fraud_keys("login")
    assert await store.client.hlen(k.ranges) <= 100
    assert await store.client.zcard(k.lru) == await store.client.hlen(k.ranges)
    found = [key async for key in store.client.scan_iter("vs:fraud:*")]
    assert {key.split("}")[0] for key in found} == {k.ranges.split("}")[0]}
    for key in found:
        assert 0 < await store.client.pttl(key) <= 4 * 7 * 86400 * 1000


async def test_a_user_who_asks_again_is_no_new_evidence(
    store: Store, make_settings: MakeSettings
) -> None:
    """Starts again to the same number within ten minutes count once: a user who resends
    (or gives up) does not make their own 100-block look like a pumping list."""
    v = components(store, make_settings)
    await history(v)
    users = [pumped(0), pumped(50)]  # two in one 100-block, neither approving
    for _ in range(5):  # ten starts in the block, two numbers
        assert [await start(v, to) for to in users] == ["sent"] * len(users)
    assert v.fraud is not None
    assert (await v.fraud.list_blocks(v.settings.services[0])).blocks == []


# The spread attack of bench/fraud_sim.py: random numbers in six 10k-blocks of three
# countries, fed at once, none with a record of its own.
SPREAD = {
    "+491577123": 4,
    "+491590456": 4,
    "+44740012": 4,
    "+44740098": 4,
    "+1212555": 4,
    "+1917444": 4,
}


def spread_rounds(rounds: int) -> list[str]:
    """Round-robin over the six blocks: one new number in each per round."""
    per_block = {p: numbers(p, digits, rounds, step=4_321) for p, digits in SPREAD.items()}
    return [per_block[p][r] for r in range(rounds) for p in SPREAD]


async def test_a_spread_over_blocks_without_history_trips_early(
    store: Store, make_settings: MakeSettings
) -> None:
    """Each block alone has too few starts to be judged; unconverted repeats into blocks
    that never saw an approval, counted across the service, give the attack away: after
    the allowance every block is blocked on its next start, and a block blocked before and
    never approved is blocked again on its first start after the block."""
    v = components(store, make_settings)
    await history(v)
    attack = spread_rounds(4)
    outcomes = [await start(v, to) for to in attack]
    allowance = int(STANDARD.fresh_allowance)
    # the first number in each block, then the allowance of repeats, then refusals only
    sent = len(SPREAD) + allowance
    assert outcomes == ["sent"] * sent + ["fraud_suspected"] * (len(attack) - sent)
    assert v.fraud is not None
    state = await v.fraud.list_blocks(v.settings.services[0])
    assert sorted((b.range, b.level) for b in state.blocks) == sorted(
        (p, "block_10k") for p in SPREAD
    )
    # Real users keep getting codes (and approve them), in the attacked countries too.
    for i in range(60, 66):
        for to in (real_de(i), swiss(i)):
            assert await start(v, to) == "sent"
            await approve(v, to)
    assert await start(v, "+447911123456") == "sent"
    assert await start(v, "+12125559876") == "fraud_suspected"  # in a blocked block
    assert await start(v, "+13125559876") == "sent"
    # After the block: each block is blocked again on its first start, twice as long.
    store.clock_offset_ms += (STANDARD.cooldown + 1) * 1000
    later = spread_rounds(6)[-len(SPREAD) :]
    assert [await start(v, to) for to in later] == ["fraud_suspected"] * len(SPREAD)
    state = await v.fraud.list_blocks(v.settings.services[0])
    assert {b.strikes for b in state.blocks} == {2}


async def test_unconverted_repeats_in_blocks_with_a_record_are_no_alarm(
    store: Store, make_settings: MakeSettings
) -> None:
    """Real users who do not (yet) approve, two to a block, in blocks where someone
    approved before, count as nothing special, however many blocks: the service is not
    alerted and nobody is refused. Below the allowance, blocks without a record pass too."""
    v = components(store, make_settings)
    await history(v)
    blocks = [f"+4179{b:03d}" for b in range(100, 112)]  # 12 Swiss 10k-blocks
    for block in blocks:  # one real user in each approves
        [to] = numbers(block, 4, 1, step=4_321)
        assert await start(v, to) == "sent"
        await approve(v, to)
    for block in blocks:  # then two more in each, who never approve
        for to in numbers(block, 4, 3, step=4_321)[1:]:
            assert await start(v, to) == "sent"
    # A few real users without a record in blocks nobody used before, two to a block:
    # repeats up to the allowance, no alert.
    fresh = [f"+4176{b:03d}" for b in range(200, 200 + int(STANDARD.fresh_allowance))]
    for block in fresh:
        for to in numbers(block, 4, 2, step=4_321):
            assert await start(v, to) == "sent"
    assert v.fraud is not None
    assert (await v.fraud.list_blocks(v.settings.services[0])).blocks == []
    for i in range(70, 80):  # and real users who approve go on as ever
        assert await start(v, real_de(i)) == "sent"
        await approve(v, real_de(i))


@pytest.mark.slow
async def test_a_service_that_always_has_such_repeats_learns_to_expect_them(
    store: Store, make_settings: MakeSettings
) -> None:
    """The allowance is on top of what the service's own history leads it to expect: a
    service whose users often leave codes unapproved in blocks without a record (here a
    pair every 80 s for two hours, among users who approve) is not alerted by a handful
    more, while a service without that history is (the spread test above)."""
    v = components(store, make_settings, window=900, baseline=3600)
    for step in range(90):
        store.clock_offset_ms += 80_000
        block = f"+49176{step * 97 % 10_000:04d}"
        for to in numbers(block, 4, 2, step=4_321):  # a pair nobody approves
            await start(v, to)  # (refused now and then at first, before it has learnt)
        for i in range(3):  # and users who approve
            to = real_de(step * 3 + i)
            assert await start(v, to) == "sent"
            await approve(v, to)
    store.clock_offset_ms += 60_000
    assert [await start(v, to) for to in spread_rounds(2)] == ["sent"] * 2 * len(SPREAD)
    assert v.fraud is not None
    blocked = {b.range for b in (await v.fraud.list_blocks(v.settings.services[0])).blocks}
    assert not blocked & set(SPREAD)
