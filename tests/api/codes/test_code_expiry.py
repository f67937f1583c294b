"""Each code keeps the expiry it was sent with; a resend cannot weaken the code (issue 14,
point 3). The verification stays pending while any of its codes works, its `expires_at`
is the end of its latest code, and a resend sends a code of the verification's own type
and length (README "Checking a code")."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from tests.support.dialects import (
    swisscom_check,
    swisscom_start,
    twilio_check,
    twilio_start,
    v1_check,
    v1_start,
)
from tests.support.helpers import Api
from verify_service.store import Store

numbers = (f"+417900{n:05d}" for n in itertools.count(400))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def fetch(api: Api, verification_id: str) -> dict[str, object]:
    r = await api.get(f"/v1/verifications/{verification_id}")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def close(a: datetime, b: datetime) -> bool:
    return abs(a - b) < timedelta(seconds=2)


@pytest.mark.parametrize("resend_by", ["v1", "twilio"])
async def test_a_30s_code_is_dead_at_38s_after_a_resend_with_the_default(
    api: Api, store: Store, resend_by: str
) -> None:
    to = next(numbers)
    first = (await v1_start(api, to, expires_in=30)).json()
    c1 = api.last_code(to)
    store.clock_offset_ms = 10_000
    if resend_by == "v1":
        await v1_start(api, to)  # no expires_in: the service's 600 s, for this code only
    else:
        await twilio_start(api, to)
    c2 = api.last_code(to)
    fetched = await fetch(api, first["id"])
    assert close(at(str(fetched["expires_at"])), at(first["created_at"]) + timedelta(seconds=610))
    store.clock_offset_ms = 38_000
    result = await v1_check(api, to, c1)
    assert (result["status"], result["valid"]) == ("pending", False)  # C1 expired at 30 s
    assert (await fetch(api, first["id"]))["status"] == "pending"  # C2 still works
    assert (await v1_check(api, to, c2))["valid"] is True


async def test_twilio_check_of_a_code_past_its_own_expiry(api: Api, store: Store) -> None:
    to = next(numbers)
    await v1_start(api, to, expires_in=30)
    c1 = api.last_code(to)
    store.clock_offset_ms = 10_000
    await twilio_start(api, to)
    c2 = api.last_code(to)
    store.clock_offset_ms = 38_000
    r = await twilio_check(api, to, c1)
    assert (r.status_code, r.json()["status"], r.json()["valid"]) == (200, "pending", False)
    assert (await twilio_check(api, to, c2)).json()["status"] == "approved"


async def test_two_30s_codes_each_end_at_their_own_time(api: Api, store: Store) -> None:
    to = next(numbers)
    first = (await v1_start(api, to, expires_in=30)).json()
    c1 = api.last_code(to)
    store.clock_offset_ms = 10_000
    resent = (await v1_start(api, to, expires_in=30)).json()
    c2 = api.last_code(to)
    created = at(first["created_at"])
    assert close(at(resent["expires_at"]), created + timedelta(seconds=40))
    store.clock_offset_ms = 36_000
    assert (await v1_check(api, to, c1))["valid"] is False
    assert (await v1_check(api, to, c2))["valid"] is True


async def test_a_resend_with_a_shorter_life_does_not_shorten_the_verification(
    api: Api, store: Store
) -> None:
    to = next(numbers)
    first = (await v1_start(api, to, expires_in=600)).json()
    c1 = api.last_code(to)
    store.clock_offset_ms = 10_000
    resent = (await v1_start(api, to, expires_in=30)).json()
    assert resent["expires_at"] == first["expires_at"]  # the first code's end is the latest
    c2 = api.last_code(to)
    store.clock_offset_ms = 100_000
    assert (await v1_check(api, to, c2))["valid"] is False  # its own 30 s are over
    assert (await v1_check(api, to, c1))["valid"] is True


async def test_swisscom_resend_with_expire_time_0(api: Api, store: Store) -> None:
    to = next(numbers)
    await swisscom_start(api, to, expireTime=30, tokenLength=6)
    c1 = api.last_code(to)
    store.clock_offset_ms = 10_000
    await swisscom_start(api, to, expireTime=0, tokenLength=6)
    c2 = api.last_code(to)
    store.clock_offset_ms = 38_000
    assert await swisscom_check(api, to, c1) == "FAILED"
    assert await swisscom_check(api, to, c2) == "SUCCESS"


async def test_when_every_code_has_expired_the_verification_has(api: Api, store: Store) -> None:
    to = next(numbers)
    first = (await v1_start(api, to, expires_in=30)).json()
    store.clock_offset_ms = 10_000
    await v1_start(api, to, expires_in=30)
    store.clock_offset_ms = 41_000
    assert (await fetch(api, first["id"]))["status"] == "expired"


# --- a resend is of the verification's own type and length -------------------------------


async def test_v1_resend_asking_for_4_digits_sends_the_verifications_6(api: Api) -> None:
    to = next(numbers)
    first = (await v1_start(api, to)).json()
    assert first["token_length"] == 6
    resent = (await v1_start(api, to, token_length=4)).json()
    assert resent["id"] == first["id"]
    assert resent["token_length"] == 6
    code = api.last_code(to)
    assert len(code) == 6
    assert (await v1_check(api, to, code))["valid"] is True


async def test_v1_resend_asking_for_another_type_sends_the_verifications_type(api: Api) -> None:
    to = next(numbers)
    await v1_start(api, to, token_type="numeric", token_length=6)
    resent = (await v1_start(api, to, token_type="alphanumeric", token_length=8)).json()
    assert (resent["token_type"], resent["token_length"]) == ("numeric", 6)
    code = api.last_code(to)
    assert code.isdigit()
    assert len(code) == 6


async def test_twilio_resend_with_code_length_4_sends_6(api: Api) -> None:
    to = next(numbers)
    await twilio_start(api, to)
    r = await twilio_start(api, to, CodeLength="4")
    code = api.last_code(to)
    assert len(code) == 6
    assert (await twilio_check(api, to, code)).json()["status"] == "approved"
    assert r.status_code == 201
