"""GET /v1/attempts, /v1/attempts/{id}, /v1/attempts/summary (issue 17), on both stores:
the acceptance flow's exact summary, a number's attempts newest first, paging that shows
each attempt once at every page size, masking, retention on the store's clock, and bad
filters as problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.attempts_flow import (
    CONVERTED,
    EXPECTED,
    PROVIDERS,
    REPEATED,
    SERVICE,
    STEPS,
    TOTAL,
    run_native,
)
from tests.support.fake_providers import ScriptedProvider, fake_kinds
from tests.support.helpers import Api, open_api
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store
from verify_service.usecases import attempts as attempts_usecase

__all__ = ["fake_kinds"]
pytestmark = pytest.mark.usefixtures("fake_kinds")

Flow = tuple[Api, dict[str, str]]


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    return body


@pytest.fixture
async def flow(store: Store, make_settings: Callable[..., Settings]) -> AsyncIterator[Flow]:
    other = {"name": "other", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["scripted"]}
    settings = make_settings(service=SERVICE, providers=PROVIDERS, extra_services=[other])
    async with open_api(settings, store, API_KEY) as client:
        provider = client.components.providers["scripted"]
        assert isinstance(provider, ScriptedProvider)
        ids = await run_native(client, provider)
        yield client, ids


async def all_pages(client: Api, query: str, limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        url = f"/v1/attempts?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["attempts"]) <= limit
        seen += body["attempts"]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


async def test_summary_by_country_counts_every_attempt_and_conversion(flow: Flow) -> None:
    client, _ = flow
    r = await client.get("/v1/attempts/summary?group_by=country")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group_by"] == "country"
    assert body["totals"]["total"] == TOTAL
    assert body["totals"]["converted"] == CONVERTED
    assert body["totals"]["unconverted"] == TOTAL - CONVERTED
    assert body["totals"]["conversion_rate"] == pytest.approx(CONVERTED / TOTAL)
    assert body["totals"]["statuses"] == {"sent": 17, "failed": 1, "refused": 2}
    groups = {g["key"]: g for g in body["groups"]}
    assert list(groups) == sorted(EXPECTED)
    for country, (total, converted) in EXPECTED.items():
        group = groups[country]
        assert (group["total"], group["converted"]) == (total, converted), country
        assert group["unconverted"] == total - converted
        assert group["conversion_rate"] == pytest.approx(converted / total, abs=1e-6)
    assert groups["DE"]["statuses"] == {"sent": 5, "failed": 1}
    assert groups["FR"]["statuses"] == {"sent": 3, "refused": 1}


async def test_summary_groups_and_filters(flow: Flow) -> None:
    client, _ = flow
    by_provider = (await client.get("/v1/attempts/summary?group_by=provider")).json()
    groups = {g["key"]: g["total"] for g in by_provider["groups"]}
    assert groups == {"": 2, "scripted": 18}  # refusals reached no provider
    by_day = (await client.get("/v1/attempts/summary?group_by=day")).json()
    assert [g["key"] for g in by_day["groups"]] == [datetime.now(UTC).date().isoformat()]
    ch = (await client.get("/v1/attempts/summary?country=ch&status=refused")).json()
    assert ch["totals"]["total"] == 1
    assert ch["groups"] == []
    prefix = (await client.get("/v1/attempts/summary?prefix=%2B33")).json()
    assert prefix["totals"]["total"] == EXPECTED["FR"][0]
    unconverted = (await client.get("/v1/attempts/summary?converted=false")).json()
    assert unconverted["totals"]["total"] == TOTAL - CONVERTED
    # another service sees none of them
    other = await client.client.get(
        "/v1/attempts/summary", headers={"Authorization": f"Bearer {OTHER_KEY}"}
    )
    assert other.json()["totals"]["total"] == 0


async def test_a_number_lists_its_attempts_newest_first_unmasked(flow: Flow) -> None:
    client, ids = flow
    r = await client.get(f"/v1/attempts?to=%2B{REPEATED.removeprefix('+')}")
    assert r.status_code == 200, r.text
    attempts = r.json()["attempts"]
    assert [a["status"] for a in attempts] == ["refused", "sent"]
    assert [a["to"] for a in attempts] == [REPEATED, REPEATED]
    assert attempts[0]["reason"] == "per_number"
    assert attempts[0]["provider"] is None
    assert attempts[0]["verification_id"] is None
    assert attempts[1]["verification_id"] == ids[REPEATED]
    assert attempts[1]["provider"] == "scripted"
    assert attempts[1]["segments"] == 1
    assert attempts[0]["created_at"] > attempts[1]["created_at"]
    # the same number written nationally is the same number
    national = await client.get("/v1/attempts?to=0791234506")
    assert [a["id"] for a in national.json()["attempts"]] == [a["id"] for a in attempts]


async def test_listings_mask_numbers_and_fetch_by_id(flow: Flow) -> None:
    client, ids = flow
    listed = await all_pages(client, "", 50)
    assert len(listed) == TOTAL
    by_number = {s.to for s in STEPS}
    for attempt in listed:
        assert attempt["to"].startswith("+*")
        assert attempt["to"] not in by_number
        assert any(n.endswith(attempt["to"][-4:]) for n in by_number)
    one = listed[3]
    fetched = await client.get(f"/v1/attempts/{one['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == one
    # a verification's attempts: converted after its approval
    approved = next(s.to for s in STEPS if s.outcome == "approve")
    r = await client.get(f"/v1/attempts?verification_id={ids[approved]}")
    [attempt] = r.json()["attempts"]
    assert attempt["converted"] is True
    assert attempt["status"] == "sent"
    assert attempt["prefix"] == approved[:5]
    # the other service cannot fetch it; a made-up id is not found either
    other = await client.client.get(
        f"/v1/attempts/{one['id']}", headers={"Authorization": f"Bearer {OTHER_KEY}"}
    )
    assert_problem(other, 404, "not_found")
    assert_problem(await client.get("/v1/attempts/att_" + "0" * 32), 404, "not_found")
    assert_problem(await client.get("/v1/attempts/nothing"), 404, "not_found")


async def test_every_page_size_shows_each_attempt_once_newest_first(flow: Flow) -> None:
    client, _ = flow
    everything = await all_pages(client, "", 1000)
    ids = [a["id"] for a in everything]
    assert len(set(ids)) == TOTAL
    # parsed, not compared as text: a time on a whole second is printed without fractions
    times = [datetime.fromisoformat(a["created_at"].replace("Z", "+00:00")) for a in everything]
    assert times == sorted(times, reverse=True)
    for limit in range(1, TOTAL + 2):
        assert [a["id"] for a in await all_pages(client, "", limit)] == ids, limit
    # with a filter that skips most records, too
    fr = [a["id"] for a in everything if a["country"] == "FR"]
    for limit in (1, 2, 3):
        assert [a["id"] for a in await all_pages(client, "&country=FR", limit)] == fr


async def test_a_rare_filter_pages_within_a_scan_budget(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing looks at SCAN_BUDGET records at most (SCAN_CALL per Redis call), then
    answers with what it found and a cursor: short pages that together are exactly the
    filter's records, newest first."""
    client, _ = flow
    everything = await all_pages(client, "", 1000)
    fr = [a["id"] for a in everything if a["country"] == "FR"]
    monkeypatch.setattr(attempts_usecase, "SCAN_BUDGET", 3)
    monkeypatch.setattr(attempts_usecase, "SCAN_CALL", 2)
    first = (await client.get("/v1/attempts?country=FR&limit=50")).json()
    assert first["next_cursor"] is not None
    assert len(first["attempts"]) < len(fr)
    assert [a["id"] for a in await all_pages(client, "&country=FR", 50)] == fr


async def test_time_filters(flow: Flow) -> None:
    client, _ = flow
    everything = await all_pages(client, "", 1000)
    middle = everything[TOTAL // 2]["created_at"]
    older = await all_pages(client, f"&until={middle}", 1000)
    newer = await all_pages(client, f"&since={middle}", 1000)
    assert newer + older == everything  # newest first: until is exclusive, since inclusive
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert await all_pages(client, f"&since={future}", 10) == []


async def test_attempts_older_than_the_retention_are_gone(flow: Flow, store: Store) -> None:
    client, _ = flow
    some = (await client.get("/v1/attempts?limit=1")).json()["attempts"][0]
    store.clock_offset_ms = (29 * 86400) * 1000  # within the 30 days: still there
    assert (await client.get("/v1/attempts/summary")).json()["totals"]["total"] == TOTAL
    store.clock_offset_ms = (30 * 86400 + 60) * 1000
    assert (await client.get("/v1/attempts/summary")).json()["totals"]["total"] == 0
    assert (await client.get("/v1/attempts")).json()["attempts"] == []
    assert (await client.get(f"/v1/attempts?to={REPEATED}")).json()["attempts"] == []
    assert_problem(await client.get(f"/v1/attempts/{some['id']}"), 404, "not_found")
    store.clock_offset_ms = 0


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("country=XX", "country"),
        ("country=CHE", "country"),
        ("since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", "until"),
        ("since=yesterday", "since"),
        ("cursor=not-a-cursor", "cursor"),
        ("status=lost", "status"),
        ("to=12", "to"),
        ("verification_id=ver_nope", "verification_id"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("prefix=41", "prefix"),
    ],
)
async def test_bad_filters_are_problem_documents(flow: Flow, query: str, word: str) -> None:
    client, _ = flow
    for path in ("/v1/attempts", "/v1/attempts/summary"):
        if word in ("cursor", "limit") and path.endswith("summary"):
            continue
        body = assert_problem(await client.get(f"{path}?{query}"), 400, "invalid_request")
        assert word in body["detail"] or word in str(body.get("errors")), body
    bad_group = await client.get("/v1/attempts/summary?group_by=planet")
    assert_problem(bad_group, 400, "invalid_request")


async def test_without_a_key_it_is_401(flow: Flow) -> None:
    client, _ = flow
    assert_problem(await client.client.get("/v1/attempts"), 401, "unauthorized")
