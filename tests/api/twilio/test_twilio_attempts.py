"""Twilio's Verification Attempts API through Twilio's own Python SDK (unchanged) against
a real uvicorn on loopback, on both stores: the acceptance flow of issue 17 is driven
through the SDK (create, check), then read back with `verification_attempts.list`,
`verification_attempts(sid).fetch()` and `verification_attempts_summary().fetch()`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import API_KEY, config
from tests.support.attempts_flow import (
    CONVERTED,
    EXPECTED,
    PROVIDERS,
    REPEATED,
    SERVICE,
    STEPS,
    TOTAL,
    run_twilio,
)
from tests.support.fake_providers import LoopbackProvider, ScriptedProvider
from tests.support.redis_server import BACKENDS, RedisServer
from tests.support.twilio_sdk import LocalServer, serve
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping
from verify_service.providers import registry


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[LocalServer, Client]]:
    url = None
    if request.param == "redis":
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        url = redis_server.url
        with redis.Redis.from_url(url) as client:
            client.flushdb()
    extra = {"redis_url": url} if url else {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.KINDS, ScriptedProvider.kind, ScriptedProvider)
        patch.setitem(registry.KINDS, LoopbackProvider.kind, LoopbackProvider)
        settings = settings_from_mapping(
            config(service=SERVICE, providers=PROVIDERS, **extra), environ={}
        )
        with serve(create_app(settings)) as s:
            service = settings.services[0]
            client = s.client(service.twilio_account_sid, API_KEY)
            verify = client.verify.v2.services(service.twilio_service_sid)
            provider = s.app.state.components.providers["scripted"]
            assert isinstance(provider, ScriptedProvider)
            run_twilio(
                lambda to: verify.verifications.create(to=to, channel="sms"),
                lambda to, code: verify.verification_checks.create(to=to, code=code),
                provider,
                TwilioRestException,
            )
            yield s, client


def test_summary_through_the_sdk(server: tuple[LocalServer, Client]) -> None:
    local, client = server
    service = local.app.state.components.settings.services[0]
    summary = client.verify.v2.verification_attempts_summary().fetch()
    assert summary.total_attempts == TOTAL
    assert summary.total_converted == CONVERTED
    assert summary.total_unconverted == TOTAL - CONVERTED
    assert float(summary.conversion_rate_percentage or "nan") == pytest.approx(60.0)
    for country, (total, converted) in EXPECTED.items():
        one = client.verify.v2.verification_attempts_summary().fetch(
            country=country, verify_service_sid=service.twilio_service_sid, channel="sms"
        )
        assert (one.total_attempts, one.total_converted) == (total, converted), country
    fr = client.verify.v2.verification_attempts_summary().fetch(destination_prefix="+336")
    assert fr.total_attempts == EXPECTED["FR"][0]
    other = client.verify.v2.verification_attempts_summary().fetch(
        verify_service_sid="VA" + "0" * 32
    )
    assert other.total_attempts == 0
    assert other.conversion_rate_percentage is None
    later = datetime.now(UTC) + timedelta(hours=1)
    assert (
        client.verify.v2.verification_attempts_summary().fetch(date_created_after=later)
    ).total_attempts == 0


def test_list_pages_fetch_and_filters_through_the_sdk(
    server: tuple[LocalServer, Client],
) -> None:
    local, client = server
    service = local.app.state.components.settings.services[0]
    attempts = client.verify.v2.verification_attempts
    everything = attempts.list(page_size=7)  # three pages, followed by next_page_url
    assert len(everything) == TOTAL
    assert len({a.sid for a in everything}) == TOTAL
    times = [a.date_created for a in everything]
    assert times == sorted(times, reverse=True)
    for a in everything:
        assert re.fullmatch(r"VL[0-9a-f]{32}", a.sid or "")
        assert a.service_sid == service.twilio_service_sid
        assert a.account_sid == service.twilio_account_sid
        assert a.channel == "sms"
        assert (a.channel_data or {})["to"].startswith("+*")  # masked in listings
    converted = attempts.list(status="converted")
    assert len(converted) == CONVERTED
    assert all(a.conversion_status == "converted" for a in converted)
    assert {(a.channel_data or {})["status"] for a in converted} == {"confirmed"}
    assert len(attempts.list(status="unconverted")) == TOTAL - CONVERTED
    assert len(attempts.list(country="DE", channel="sms")) == EXPECTED["DE"][0]

    mine = attempts.list(channel_data_to=REPEATED)
    assert [(a.channel_data or {})["message_status"] for a in mine] == ["canceled", "sent"]
    assert {(a.channel_data or {})["to"] for a in mine} == {REPEATED}
    assert mine[0].verification_sid is None
    assert re.fullmatch(r"VE[0-9a-f]{32}", mine[1].verification_sid or "")
    same = attempts.list(verification_sid=mine[1].verification_sid)
    assert [a.sid for a in same] == [mine[1].sid]

    fetched = attempts(mine[1].sid).fetch()
    assert fetched.sid == mine[1].sid
    assert fetched.verification_sid == mine[1].verification_sid
    assert fetched.url == f"{local.base_url}/v2/Attempts/{fetched.sid}"
    assert attempts.list(verify_service_sid="VA" + "0" * 32) == []
    failed = [a for a in everything if (a.channel_data or {})["message_status"] == "failed"]
    assert len(failed) == sum(s.outcome == "fail" for s in STEPS)


def test_errors_in_twilio_shape(server: tuple[LocalServer, Client]) -> None:
    local, client = server
    with pytest.raises(TwilioRestException) as missing:
        client.verify.v2.verification_attempts("VL" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)
    service = local.app.state.components.settings.services[0]
    auth = (service.twilio_account_sid, API_KEY)
    for query in ("Status=maybe", "Country=XX", "PageToken=nope", "VerificationSid=VE1"):
        r = httpx.get(f"{local.base_url}/v2/Attempts?{query}", auth=auth)
        assert r.status_code == 400, query
        assert r.json()["code"] == 60200, query
    with pytest.raises(TwilioRestException) as bad_country:
        client.verify.v2.verification_attempts_summary().fetch(country="XX")
    assert (bad_country.value.status, bad_country.value.code) == (400, 60200)
    r = httpx.get(f"{local.base_url}/v2/Attempts")  # no credentials
    assert r.status_code == 401
    assert r.json()["code"] == 20003
    r = httpx.post(f"{local.base_url}/v2/Attempts", auth=("AC" + "0" * 32, API_KEY))
    assert r.status_code == 405
    assert r.json()["code"] == 20004
