"""Issue 15.4: deeply nested JSON is a 400 at every parser that faces the network, never a
500 (a RecursionError is not a ValueError): requests of every dialect, delivery reports of
every provider kind that takes them, and answers of providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import API_KEY, config
from tests.support.fake_http import FakeServer, Reply
from tests.support.helpers import open_api
from verify_service.config import Settings, settings_from_mapping
from verify_service.domain import json_depth
from verify_service.store import Store

BOMB = b"[" * 50_000
OBJECT_BOMB = b'{"a":' * 50_000
# Requests are capped at 16 KiB (413 beyond): as deep as fits.
REQUEST_BOMB = b"[" * 15_000
SECRET = "reports-0123456789abcdef"
# Every kind that takes delivery reports, with the least config it needs.
REPORTING = {
    "swisscom": {"kind": "swisscom_sms", "client_id": "cid"},
    "smsfactor": {"kind": "smsfactor", "token": "t"},
    "websms": {"kind": "websms", "access_token": "t"},
    "webex": {
        "kind": "webex_connect",
        "service_key": "k",
        "sender_id": "s",
        "base_url": "https://api.eu.webexconnect.io",
    },
}


@pytest.mark.parametrize("bomb", [BOMB, OBJECT_BOMB])
@pytest.mark.parametrize("provider", sorted(REPORTING))
async def test_nested_delivery_reports_are_400(
    store: Store, make_settings: Callable[..., Settings], provider: str, bomb: bytes
) -> None:
    providers: dict[str, Any] = {
        "capture": {"kind": "capture"},
        **{name: {**table, "report_secret": "env:SECRET"} for name, table in REPORTING.items()},
    }
    settings = settings_from_mapping(config(providers=providers), environ={"SECRET": SECRET})
    async with open_api(settings, store, API_KEY) as api:
        r = await api.client.post(
            f"/v1/providers/{provider}/reports/{SECRET}",
            content=bomb,
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_request"


async def test_nested_requests_are_400_in_each_dialect(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    async with open_api(make_settings(), store, API_KEY) as api:
        r = await api.client.post(
            "/v1/verifications",
            content=REQUEST_BOMB,
            headers={**api.headers, "content-type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert "nested too deeply" in r.json()["detail"]
        r = await api.client.post(
            "/messaging/tokenvalidation",
            content=b'{"to":' + REQUEST_BOMB,
            headers={"client_id": API_KEY, "SCS-Version": "2", "content-type": "application/json"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "INVALID_REQUEST"


async def test_a_provider_answering_nested_json_is_a_failed_send_not_a_500(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    with (
        FakeServer(lambda _: Reply(200, body=BOMB)) as nested,
        FakeServer(lambda _: Reply(200, json={"status": 1, "ticket": "t-1", "sent": 1})) as good,
    ):
        providers = {
            "nested": {"kind": "smsfactor", "token": "t", "base_url": nested.url, "retries": 0},
            "good": {"kind": "smsfactor", "token": "t", "base_url": good.url},
        }
        settings = make_settings(providers=providers, service={"providers": ["nested", "good"]})
        async with open_api(settings, store, API_KEY) as api:
            r = await api.post("/v1/verifications", {"to": "+41791234567"})
    assert r.status_code == 201, r.text
    attempts = [(a["provider"], a["status"]) for a in r.json()["send_attempts"]]
    assert attempts == [("nested", "failed"), ("good", "sent")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ax'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


def nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_depth_is_the_nesting_whatever_the_strings_hold(value: Any) -> None:
    text = json.dumps(value).encode()
    assert json_depth.depth(text) == nesting(value)
    assert json_depth.loads(text) == value


def test_the_limit_is_exact() -> None:
    at_limit = b"[" * json_depth.MAX_DEPTH + b"]" * json_depth.MAX_DEPTH
    assert json_depth.depth(at_limit) == json_depth.MAX_DEPTH
    json_depth.loads(at_limit)
    with pytest.raises(ValueError, match="nested"):
        json_depth.loads(b"[" + at_limit + b"]")
