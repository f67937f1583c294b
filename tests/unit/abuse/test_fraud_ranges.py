"""Number ranges and the guard's counters, for any number and any traffic: ranges nest
from the country code to a block of 100 numbers; the Lua's decayed counters add up the
way the formula says, on fakeredis and on a redis-server."""

from __future__ import annotations

import asyncio
import itertools
import math
from unittest import mock

import phonenumbers
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.redis_server import RedisServer
from verify_service.abuse import ranges as ranges_module
from verify_service.abuse.fraud import guard_args
from verify_service.abuse.ranges import (
    LEVELS,
    ROOT,
    RangeError,
    parse_range,
    prefixes_of,
    ranges_of,
    ranges_of_phone,
)
from verify_service.config.abuse import FraudGuard
from verify_service.domain.phones import PhoneNumberError, parse_phone
from verify_service.store import Store, keys
from verify_service.store.fraud import FraudStore

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
KINDS = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """A valid number of any supported region: an example number with its last digits
    replaced, kept when phonenumbers still calls it valid."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from(KINDS))
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        example = phonenumbers.example_number(region)
    if example is None:
        return "+41791234567"
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    tail = draw(st.integers(0, 999))
    candidate = f"{e164[:-3]}{tail:03d}"
    return candidate if phonenumbers.is_valid_number(phonenumbers.parse(candidate)) else e164


@settings(max_examples=300, deadline=None)
@given(valid_numbers())
def test_ranges_nest_from_the_country_code_down(e164: str) -> None:
    ranges = ranges_of(e164)
    assert ranges[0].prefix == ROOT
    code = phonenumbers.parse(e164).country_code
    assert ranges[1].prefix == f"+{code}"
    assert ranges[1].level == "country"
    prefixes = [r.prefix for r in ranges[1:]]
    for broad, narrow in itertools.pairwise(prefixes):
        assert narrow.startswith(broad)
        assert len(narrow) > len(broad)
    assert all(e164.startswith(p) for p in prefixes)
    assert len(ranges[-1].prefix) < len(e164) or len(ranges) == 2  # never a whole number
    levels = [r.level for r in ranges]
    assert levels == sorted(levels, key=LEVELS.index)
    assert {r.country for r in ranges[1:]} == {ranges[1].country}
    # every range is something an operator can name again
    for r in ranges[1:]:
        assert parse_range(r.prefix).prefix == r.prefix
    assert set(prefixes) <= set(prefixes_of(e164))


@settings(max_examples=200, deadline=None)
@given(valid_numbers())
def test_a_numbers_ranges_are_worked_out_once_and_the_same(e164: str) -> None:
    """A flow asks for its number's ranges three times (the guard's start, its verdict,
    the approval): phonenumbers parses the number once, and the kept answer is what
    working it out again gives, for numbers of every region."""
    ranges_of.cache_clear()
    with mock.patch.object(ranges_module.phonenumbers, "parse", wraps=phonenumbers.parse) as parse:
        first = ranges_of(e164)
        assert ranges_of(e164) is first
        assert ranges_of(e164) is first
    assert parse.call_count == 1
    assert ranges_of.__wrapped__(e164) == first


def test_a_german_mobile_number() -> None:
    assert [(r.prefix, r.level) for r in ranges_of("+4915212345678")] == [
        ("*", "service"),
        ("+49", "country"),
        ("+491521", "ndc"),
        ("+4915212", "block_1m"),
        ("+491521234", "block_10k"),
        ("+49152123456", "block_100"),
    ]


@given(st.text(max_size=20))
def test_operator_ranges_are_e164_prefixes_of_a_country_code(text: str) -> None:
    try:
        found = parse_range(text)
    except RangeError:
        return
    assert found.prefix.startswith("+")
    assert found.prefix[1:].isdigit()
    assert 2 <= len(found.prefix) <= 16


# --- the counters -------------------------------------------------------------------------

TAU = 3600_000
TAU_LONG = 7 * 86400_000
RANGES = ["*", "+41", "+4179"]


async def _replay(store: Store, events: list[tuple[str, int]]) -> dict[str, tuple[float, ...]]:
    """Run starts and approvals, `(kind, ms after the previous)`, at Redis time moved by
    the store's offset; the stored counters of +4179 read back at the last event."""
    guard = FraudStore(store)
    args = guard_args(FraudGuard(allowed_prefixes=["+41"]))
    for i, (kind, gap) in enumerate(events):
        store.clock_offset_ms += gap
        if kind == "start":
            await guard.start(
                "svc", RANGES, ["service", "country", "ndc"], [3.0] * 3, [], args,
                allowed=True, number_id=f"n{i}",
            )  # fmt: skip
        else:
            await guard.approved("svc", RANGES, args)
    raw = await store.client.hget(keys.fraud_keys("svc").ranges, "+4179")
    s, a, S, A = (float(x) for x in raw.split()[:4])
    return {"+4179": (s, a, S, A)}


def _expected(events: list[tuple[str, int]]) -> tuple[float, float, float, float]:
    total = sum(gap for _, gap in events)
    t = 0
    s = a = S = A = 0.0
    for kind, gap in events:
        t += gap
        age = total - t
        short, long_ = math.exp(-age / TAU), math.exp(-age / TAU_LONG)
        if kind == "start":
            s, S = s + short, S + long_
        else:
            a, A = a + short, A + long_
    return s, a, S, A


EVENTS = st.lists(
    st.tuples(st.sampled_from(["start", "approve"]), st.integers(0, 4 * 3600_000)),
    min_size=1,
    max_size=25,
)


def _check(got: tuple[float, ...], want: tuple[float, float, float, float]) -> None:
    # 6 significant digits stored; milliseconds of real time pass between calls
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-3, abs=1e-3)


@settings(max_examples=40, deadline=None)
@given(EVENTS)
def test_counters_decay_as_the_formula_says_on_fakeredis(events: list[tuple[str, int]]) -> None:
    async def run() -> None:
        store = Store.embedded()
        await store.load_scripts()
        got = await _replay(store, events)
        _check(got["+4179"], _expected(events))
        await store.aclose()

    asyncio.run(run())


@pytest.mark.redis
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS)
def test_counters_decay_as_the_formula_says_on_redis(
    redis_server: RedisServer, events: list[tuple[str, int]]
) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        await client.flushdb()
        store = Store(client)
        await store.load_scripts()
        got = await _replay(store, events)
        _check(got["+4179"], _expected(events))
        await store.aclose()

    asyncio.run(run())


ALL_TYPES = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
]


@st.composite
def read_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(what a caller sends, its default region): a valid number of any region and type,
    written in its national form or as E.164; ("+41791234567", "CH") when the region has
    no example of the type."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(ALL_TYPES)))
    if example is None:
        return "+41791234567", "CH"
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    tail = draw(st.integers(0, 999))
    candidate = phonenumbers.parse(f"{e164[:-3]}{tail:03d}")
    if not phonenumbers.is_valid_number(candidate):
        candidate = example
    national = draw(st.booleans())
    form = (
        phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.E164
    )
    return phonenumbers.format_number(candidate, form), region


@settings(max_examples=500, deadline=None)
@given(read_numbers())
def test_the_ranges_of_a_number_as_the_start_read_it_are_those_of_its_e164(
    sent: tuple[str, str],
) -> None:
    """The start hands the guard the number it parsed: the same ranges (prefixes, levels,
    countries) as parsing its E.164 text again, with neither a second parse nor a second
    classification of its type."""
    text, region = sent
    try:
        phone = parse_phone(text, region)
    except PhoneNumberError:
        return  # a national form phonenumbers does not read back: nothing to compare
    expected = ranges_of.__wrapped__(phone.e164)
    ranges_of.cache_clear()
    with (
        mock.patch.object(ranges_module.phonenumbers, "parse", wraps=phonenumbers.parse) as parse,
        mock.patch.object(
            ranges_module.phonenumbers, "number_type", wraps=phonenumbers.number_type
        ) as classify,
    ):
        assert ranges_of_phone(phone) == expected
        assert ranges_of(phone.e164) == expected  # kept: the verdict and approval ask again
    assert parse.call_count == 0, (text, region, parse.call_args_list)
    assert classify.call_count == 0, (text, region)


@settings(max_examples=500, deadline=None)
@given(read_numbers())
def test_the_ndc_of_a_number_of_known_type_is_phonenumbers_own(sent: tuple[str, str]) -> None:
    text, region = sent
    number = phonenumbers.parse(text, region)
    assert ranges_module._ndc_length(
        number, phonenumbers.number_type(number)
    ) == phonenumbers.length_of_national_destination_code(number)


def test_an_argentinian_mobile_numbers_ndc_holds_its_mobile_token() -> None:
    phone = parse_phone("+5491187654321", "AR")
    assert phone.number_type == phonenumbers.PhoneNumberType.MOBILE
    assert ranges_of_phone(phone)[2].prefix == ranges_of.__wrapped__(phone.e164)[2].prefix
    assert ranges_module._ndc_length(phone.parsed, phone.number_type) == (
        phonenumbers.length_of_national_destination_code(phone.parsed)
    )
