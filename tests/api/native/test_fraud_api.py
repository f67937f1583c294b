"""The operator API of the pumping guard (`/v1/fraud/*`): operator keys only, the
operator's own services only, problem documents for every bad input, and every lift and
allow-list change logged with its actor and counted."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.abuse_helpers import NO_LIMITS
from tests.support.helpers import Api, open_api
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store

OPS_KEY = "ops-key-0123456789abcdef"
ALL_KEY = "ops-all-0123456789abcdef"
PROBLEM = "application/problem+json"


def pumped(i: int) -> str:
    return f"+49152110000{i:02d}"


@pytest.fixture
async def api(store: Store, make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    settings = make_settings(
        service={"rate_limits": NO_LIMITS, "fraud_guard": {}},  # the guard on, as shipped
        extra_services=[
            {"name": "shop", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["capture"]}
        ],
        operators=[
            {"name": "alice", "api_keys": [hash_api_key(OPS_KEY)], "services": ["login"]},
            {"name": "bob", "api_keys": [hash_api_key(ALL_KEY)], "services": ["*"]},
        ],
    )
    async with open_api(settings, store, API_KEY) as a:
        yield a


def ops(key: str = OPS_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def block_a_range(api: Api) -> int:
    """Pump sequential numbers of login's until the guard blocks their 100-block; the
    codes sent before."""
    for i in range(30):
        answer = await api.post("/v1/verifications", json={"to": pumped(i)})
        if answer.status_code == 403:
            assert answer.json()["code"] == "fraud_suspected"
            return i
        assert answer.status_code == 201
    raise AssertionError("never blocked")


async def test_blocks_are_listed_with_the_counts_that_caused_them(api: Api) -> None:
    empty = await api.client.get("/v1/fraud/blocks", headers=ops())
    assert empty.status_code == 200
    assert empty.json() == {"service": "login", "blocks": [], "allowed": []}
    sent = await block_a_range(api)
    answer = await api.client.get("/v1/fraud/blocks", headers=ops())
    [block] = answer.json()["blocks"]
    assert block["range"] == "+49152110000"
    assert (block["level"], block["country"], block["strikes"], block["refused"]) == (
        "block_100",
        "DE",
        1,
        1,
    )
    assert block["starts"] == pytest.approx(sent + 1, abs=0.1)
    assert block["approvals"] == 0
    assert block["conversion"] == 0
    assert 0 < block["retry_after"] <= 3600
    assert block["blocked_at"] < block["until"]


async def test_lift_and_allow_list_are_logged_and_counted(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    await block_a_range(api)
    with caplog.at_level(logging.WARNING, "verify_service.abuse"):
        lifted = await api.client.post(
            "/v1/fraud/blocks/lift", json={"range": "+49152110000"}, headers=ops()
        )
        assert lifted.status_code == 200
        assert lifted.json()["range"] == "+49152110000"
        allowed = await api.client.post(
            "/v1/fraud/allowed", json={"range": "+4915211", "service": "login"}, headers=ops()
        )
        assert allowed.status_code == 201
        assert allowed.json()["actor"] == "alice"
        listed = await api.client.get("/v1/fraud/blocks?service=login", headers=ops())
        assert listed.json()["blocks"] == []
        assert [a["range"] for a in listed.json()["allowed"]] == ["+4915211"]
        gone = await api.client.delete("/v1/fraud/allowed/+4915211", headers=ops())
        assert gone.status_code == 204
    assert "alice lifted the block of +49152110000" in caplog.text
    assert "alice allow-listed +4915211" in caplog.text
    assert "alice took +4915211 off the allow-list" in caplog.text
    metrics = api.components.metrics.render().decode()
    for action in ("lift", "allow", "unallow"):
        assert (
            f'verify_fraud_operator_actions_total{{action="{action}",country="DE",'
            'service="login"} 1.0' in metrics
        )
    again = await api.client.post(
        "/v1/fraud/blocks/lift", json={"range": "+49152110000"}, headers=ops()
    )
    assert again.status_code == 404
    assert again.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("post", "/v1/fraud/blocks/lift", {"range": "+0123"}, 400, "E.164 prefix"),
        ("post", "/v1/fraud/blocks/lift", {"range": "abc"}, 400, "E.164 prefix"),
        ("post", "/v1/fraud/blocks/lift", {"range": "+999"}, 400, "country calling code"),
        ("post", "/v1/fraud/blocks/lift", {"range": "+4" + "1" * 20}, 400, ""),
        ("post", "/v1/fraud/blocks/lift", {"range": "+49", "why": "x"}, 400, "why"),
        ("post", "/v1/fraud/blocks/lift", {}, 400, "range"),
        ("post", "/v1/fraud/blocks/lift", None, 400, "body"),
        ("post", "/v1/fraud/allowed", {"range": 491521}, 400, "range"),
        ("post", "/v1/fraud/allowed", {"range": "+49", "service": "no such"}, 400, "service"),
        ("delete", "/v1/fraud/allowed/+49x", None, 400, "E.164 prefix"),
        ("delete", "/v1/fraud/allowed/+491521", None, 404, "not on the allow-list"),
        ("get", "/v1/fraud/blocks?service=a%20b", None, 400, "service"),
        ("post", "/v1/fraud/blocks/lift", {"range": "+49"}, 404, "no block of +49"),
    ],
)
async def test_bad_input_gets_a_problem_document(
    api: Api, method: str, path: str, body: Any, status: int, detail: str
) -> None:
    kwargs: dict[str, Any] = {"headers": ops()}
    if body is not None:
        kwargs["json"] = body
    answer = await getattr(api.client, method)(path, **kwargs)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == status
    assert detail in problem["detail"] + str(problem.get("errors", ""))


@pytest.mark.parametrize(
    ("headers", "path", "status"),
    [
        ({}, "/v1/fraud/blocks", 401),
        ({"Authorization": f"Bearer {API_KEY}"}, "/v1/fraud/blocks", 401),  # a service key
        ({"Authorization": "Bearer wrong-0123456789"}, "/v1/fraud/blocks", 401),
        ({"Authorization": f"Basic {OPS_KEY}"}, "/v1/fraud/blocks", 401),
        (ops(), "/v1/fraud/blocks?service=shop", 404),  # not alice's
        (ops(), "/v1/fraud/blocks?service=nope", 404),  # no such service: the same answer
        (ops(ALL_KEY), "/v1/fraud/blocks", 400),  # bob manages two: he must name one
    ],
)
async def test_only_operators_reach_their_own_services(
    api: Api, headers: dict[str, str], path: str, status: int
) -> None:
    answer = await api.client.get(path, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM


async def test_an_operator_of_every_service_names_one(api: Api) -> None:
    for name in ("login", "shop"):
        answer = await api.client.get(f"/v1/fraud/blocks?service={name}", headers=ops(ALL_KEY))
        assert answer.status_code == 200
        assert answer.json()["service"] == name


async def test_an_operator_key_cannot_start_verifications(api: Api) -> None:
    answer = await api.client.post("/v1/verifications", json={"to": "+41791234567"}, headers=ops())
    assert answer.status_code == 401
