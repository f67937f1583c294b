"""Delivery reports reach the attempt log (issue 18): the record of the send a report is
about gets its status, the provider's error code and the report's time, shown by
`/v1/attempts` (`status`, `reason`, `reported_at`) and Twilio's `/v2/Attempts`
(`channel_data.message_status`, `channel_data.error_code`, `date_updated`); on both stores."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.native.test_delivery_reports import (
    ENV,
    PROVIDERS,
    SECRET_A,
    SECRET_B,
    report,
    scripted,
)
from tests.conftest import API_KEY, config
from tests.support.fake_providers import fake_kinds, unavailable
from tests.support.helpers import Api, open_api
from verify_service.config import settings_from_mapping
from verify_service.domain.attempts import Attempt
from verify_service.domain.timestamps import rfc3339
from verify_service.store import Store, keys
from verify_service.store.attempts import REASON_MAX, DeliveryUpdate, pack, unpack
from verify_service.store.verifications import AppliedReport

__all__ = ["fake_kinds"]
pytestmark = pytest.mark.usefixtures("fake_kinds")
TO = "+41791234567"


@pytest.fixture
def app(store: Store) -> Callable[[], AbstractAsyncContextManager[Api]]:
    settings = settings_from_mapping(
        config(providers=PROVIDERS, service={"providers": ["a", "b"]}), environ=ENV
    )
    return lambda: open_api(settings, store, API_KEY)


async def records(api: Api, verification_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/v1/attempts?verification_id={verification_id}")
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["attempts"]))  # oldest first


async def twilio_records(api: Api) -> list[dict[str, Any]]:
    service = api.components.settings.services[0]
    r = await api.client.get("/v2/Attempts", auth=(service.twilio_account_sid, API_KEY))
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["attempts"]))


async def test_an_undelivered_then_delivered_report_updates_the_attempt(app: Any) -> None:
    async with app() as api:
        started = await api.post("/v1/verifications", {"to": TO})
        verification_id = started.json()["id"]
        [sent] = await records(api, verification_id)
        assert (sent["status"], sent["reason"], sent["reported_at"]) == ("sent", None, None)

        body = [{"id": "a-1", "status": "undelivered", "detail": "EC_ABSENT_SUBSCRIBER"}]
        assert (await report(api, "a", SECRET_A, body)).status_code == 200
        [attempt] = await records(api, verification_id)
        assert attempt["status"] == "undelivered"
        assert attempt["reason"] == "EC_ABSENT_SUBSCRIBER"
        reported = datetime.fromisoformat(attempt["reported_at"])
        assert reported >= datetime.fromisoformat(sent["created_at"]).replace(microsecond=0)
        assert attempt["id"] == sent["id"]  # the same record, changed in place
        [twilio] = await twilio_records(api)
        assert twilio["channel_data"]["message_status"] == "undelivered"
        assert twilio["channel_data"]["error_code"] == "EC_ABSENT_SUBSCRIBER"
        assert twilio["date_updated"] == f"{attempt['reported_at'][:19]}Z"  # ISO, to the second

        # approved meanwhile, then the late "delivered": both stay on the record
        code = scripted(api, "a").last_code()
        checked = await api.post("/v1/verifications/check", {"to": TO, "code": code})
        assert checked.json()["status"] == "approved"
        await report(api, "a", SECRET_A, [{"id": "a-1", "status": "delivered"}])
        [attempt] = await records(api, verification_id)
        assert (attempt["status"], attempt["reason"], attempt["converted"]) == (
            "delivered",
            None,
            True,
        )
        assert attempt["reported_at"] is not None
        [twilio] = await twilio_records(api)
        assert twilio["channel_data"]["message_status"] == "delivered"
        assert twilio["channel_data"]["error_code"] is None
        assert twilio["conversion_status"] == "converted"

        # "delivered" is proof: a late "undelivered" changes nothing
        await report(api, "a", SECRET_A, [{"id": "a-1", "status": "undelivered"}])
        assert (await records(api, verification_id))[0]["status"] == "delivered"
        summary = (await api.get("/v1/attempts/summary")).json()
        assert summary["totals"]["statuses"] == {"delivered": 1}


async def test_a_report_changes_only_the_attempt_of_its_provider(app: Any) -> None:
    async with app() as api:
        scripted(api, "a").plan = [unavailable()]
        verification_id = (await api.post("/v1/verifications", {"to": TO})).json()["id"]
        # ids are per provider: b's message id through a's hook finds nothing
        await report(api, "a", SECRET_A, [{"id": "b-1", "status": "delivered"}])
        by_provider = {r["provider"]: r for r in await records(api, verification_id)}
        assert {p: r["status"] for p, r in by_provider.items()} == {"a": "failed", "b": "sent"}
        await report(api, "b", SECRET_B, [{"id": "b-1", "status": "delivered"}])
        by_provider = {r["provider"]: r for r in await records(api, verification_id)}
        assert (by_provider["a"]["status"], by_provider["a"]["reported_at"]) == ("failed", None)
        assert by_provider["a"]["reason"] == "HTTP 503: unavailable"
        assert by_provider["b"]["status"] == "delivered"
        assert by_provider["b"]["reported_at"] is not None


async def test_one_store_call_per_batch_and_service(app: Any) -> None:
    async with app() as api:
        ids = []
        for i in range(3):
            r = await api.post("/v1/verifications", {"to": f"+4179123450{i}"})
            ids.append(r.json()["id"])
        calls: list[str] = []
        scripts = api.components.store.scripts
        original = scripts.run

        async def counting(name: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return await original(name, *args, **kwargs)

        scripts.run = counting  # type: ignore[method-assign]
        body = [{"id": f"a-{i + 1}", "status": "delivered"} for i in range(3)]
        await report(api, "a", SECRET_A, body)
        assert calls.count("attempts_dlr") == 1
        for verification_id in ids:
            assert [r["status"] for r in await records(api, verification_id)] == ["delivered"]


@settings(max_examples=60, deadline=None)
@given(
    code=st.text(max_size=80),
    provider=st.text(min_size=1, max_size=20),
    reported=st.integers(min_value=0, max_value=10**7),
)
def test_a_reported_record_reads_back(code: str, provider: str, reported: int) -> None:
    """Whatever a provider writes as its code, the record keeps its shape: cleaned, cut to
    REASON_MAX, never a field separator; the update line never spills into another."""
    tag_key = keys.tag_key(b"x" * 32)
    verification_id = keys.ID_PREFIX + keys.tag_for(tag_key, "login", TO) + "0" * 16
    attempt = Attempt(
        id="att_" + "0" * 11 + "1" + "a" * 20,
        created_at=datetime.fromtimestamp(0.001).astimezone(),
        service="login",
        status="sent",
        to=TO,
        country="CH",
        channel="sms",
        provider="a",
        verification_id=verification_id,
    )
    score, member = pack(attempt)
    line = DeliveryUpdate(verification_id, provider, score, "undelivered", code).line()
    assert "\n" not in line
    assert line.count("\t") == 4
    cleaned = line.split("\t")[4]
    assert len(cleaned) <= REASON_MAX
    assert "|" not in cleaned
    fields = member.split("|")
    fields[2], fields[9] = "u", cleaned
    back = unpack("login", score, "|".join([*fields, str(reported)]), tag_key)
    assert (back.status, back.reason or "", back.verification_id) == (
        "undelivered",
        cleaned,
        verification_id,
    )
    assert back.reported_at is not None
    assert round(back.reported_at.timestamp() - back.created_at.timestamp()) == reported


@given(ms=st.integers(min_value=0, max_value=4102444800000))
def test_a_send_time_as_stored_reads_back_in_ms(ms: int) -> None:
    """The changed attempt's time as report.lua hands it back: the ISO text the record keeps
    (to the ms), or ms in base 36 (a packed attempt)."""
    at = datetime.fromtimestamp(ms / 1000, UTC)
    assert AppliedReport.of(["changed", "login", rfc3339(at)], "ver_x").sent_at_ms == ms
    assert AppliedReport.of(["changed", "login", base36(ms)], "ver_x").sent_at_ms == ms
    assert AppliedReport.of(["changed", "login", "?"], "ver_x").sent_at_ms is None
    assert AppliedReport.of(["not_found"], "ver_x").outcome == "unknown"


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, r = divmod(n, 36)
        text = digits[r] + text
        if n == 0:
            return text
