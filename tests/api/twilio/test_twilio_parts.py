"""The pieces under the Twilio-compatible API: SID mapping, the per-service Twilio config,
and the backend approval use case (on fakeredis and on a real redis-server)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.conftest import API_KEY, TAG_KEY, MakeVerifs, config
from tests.support.helpers import sent_code
from verify_service.api.app import create_app
from verify_service.api.twilio.schemas import attempt_sid, verification_id, verification_sid
from verify_service.config import ConfigError, Settings, settings_from_mapping
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.store import Store, keys

HEX32 = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
TO = "+41791234567"


# --- SIDs --------------------------------------------------------------------------------


@given(HEX32)
def test_sid_and_id_map_one_to_one(digits: str) -> None:
    our = "ver_" + digits
    sid = verification_sid(our)
    assert sid == "VE" + digits
    assert verification_id(sid) == our
    # Twilio treats SID hex case-insensitively; ours is lower case
    assert verification_id("VE" + digits.upper()) == our


def test_real_ids_map_to_sids() -> None:
    our = keys.new_id(keys.tag_for(TAG_KEY, "login", TO))
    assert verification_id(verification_sid(our)) == our


@given(st.text(max_size=40))
def test_anything_else_is_no_sid(text: str) -> None:
    if not re.fullmatch(r"VE[0-9a-fA-F]{32}", text):
        assert verification_id(text) is None


def test_attempt_sids_are_stable_and_distinct() -> None:
    our = "ver_" + "a" * 32
    assert attempt_sid(our, 0) == attempt_sid(our, 0)
    assert attempt_sid(our, 0) != attempt_sid(our, 1)
    assert re.fullmatch(r"VL[0-9a-f]{32}", attempt_sid(our, 0))


# --- config ------------------------------------------------------------------------------


def _settings(**service: Any) -> Settings:
    return settings_from_mapping(config(service=service), environ={})


def test_default_sids_are_derived_from_the_service_name() -> None:
    one, again = _settings().services[0], _settings().services[0]
    assert re.fullmatch(r"AC[0-9a-f]{32}", one.twilio_account_sid)
    assert re.fullmatch(r"VA[0-9a-f]{32}", one.twilio_service_sid)
    # stable across restarts and instances, so clients can keep them in their config
    assert (one.twilio_account_sid, one.twilio_service_sid) == (
        again.twilio_account_sid,
        again.twilio_service_sid,
    )
    renamed = _settings(name="signup").services[0]
    assert renamed.twilio_service_sid != one.twilio_service_sid


def test_configured_sids_are_kept() -> None:
    service = _settings(twilio_account_sid="AC" + "1" * 32, twilio_service_sid="VA" + "2" * 32)
    assert service.services[0].twilio_account_sid == "AC" + "1" * 32
    assert service.services[0].twilio_service_sid == "VA" + "2" * 32


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("twilio_service_sid", "VA123"),
        ("twilio_service_sid", "AC" + "1" * 32),
        ("twilio_account_sid", "VA" + "1" * 32),
        ("twilio_account_sid", "AC" + "g" * 32),
    ],
)
def test_malformed_sids_fail_at_start_up(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        _settings(**{key: value})


def test_two_services_cannot_share_a_service_sid() -> None:
    sid = "VA" + "3" * 32
    twin = {"name": "other", "providers": ["capture"], "twilio_service_sid": sid}
    with pytest.raises(ConfigError, match="same twilio_service_sid"):
        settings_from_mapping(
            config(service={"twilio_service_sid": sid}, extra_services=[twin]), environ={}
        )


# --- backend approval --------------------------------------------------------------------


async def test_approve_ends_a_pending_verification(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    service = v.settings.services[0]
    started = await v.verifications.start(service, StartParams(to=TO))
    approved = await v.verifications.approve(service, started.id)
    assert approved.status == "approved"
    assert approved.updated_at is not None
    assert (await v.verifications.fetch(service, started.id)).status == "approved"
    # the code sent earlier approves nothing more
    result = await v.verifications.check(service, to=TO, code=sent_code(v, TO))
    assert (result.valid, result.status) == (False, "approved")
    with pytest.raises(VerifyError) as info:
        await v.verifications.approve(service, started.id)
    assert info.value.code == "verification_not_pending"


async def test_approve_refuses_expired_exhausted_and_foreign(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs(
        service={"max_check_attempts": 1},
        extra_services=[{"name": "other", "providers": ["capture"]}],
    )
    service, other = v.settings.services
    exhausted = await v.verifications.start(service, StartParams(to=TO))
    wrong = "000000" if sent_code(v, TO) != "000000" else "111111"
    assert (
        await v.verifications.check(service, to=TO, code=wrong)
    ).status == "max_attempts_reached"
    with pytest.raises(VerifyError) as info:
        await v.verifications.approve(service, exhausted.id)
    assert info.value.extra["verification_status"] == "max_attempts_reached"

    expired = await v.verifications.start(service, StartParams(to="+41791234568", expires_in=30))
    with pytest.raises(VerifyError) as info:
        await v.verifications.approve(other, expired.id)
    assert info.value.code == "verification_not_found"
    store.clock_offset_ms = 31_000
    with pytest.raises(VerifyError) as info:
        await v.verifications.approve(service, expired.id)
    assert info.value.extra["verification_status"] == "expired"
    assert (await v.verifications.fetch(service, expired.id)).status == "expired"


# --- any form, any path: a Twilio-shaped answer, never a 500 -----------------------------

FIELDS = ["To", "Channel", "Locale", "CodeLength", "Code", "VerificationSid", "Status", "Amount"]


@pytest.fixture(scope="module")
def wire() -> Iterator[tuple[TestClient[Any], dict[str, str], str]]:
    conf = settings_from_mapping(config(), environ={})
    service = conf.services[0]
    raw = base64.b64encode(f"{service.twilio_account_sid}:{API_KEY}".encode()).decode()
    with TestClient(create_app(conf)) as client:
        yield client, {"Authorization": f"Basic {raw}"}, service.twilio_service_sid


@given(
    form=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=40), max_size=5),
    tail=st.sampled_from(
        ["/Verifications", "/VerificationCheck", "/Verifications/VE" + "0" * 32, ""]
    ),
    method=st.sampled_from(["GET", "POST"]),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_form_gets_a_twilio_answer(
    wire: tuple[TestClient[Any], dict[str, str], str],
    form: dict[str, str],
    tail: str,
    method: str,
) -> None:
    client, headers, service_sid = wire
    r = client.request(method, f"/v2/Services/{service_sid}{tail}", data=form, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"code", "message", "more_info", "status"}
        assert body["status"] == r.status_code
