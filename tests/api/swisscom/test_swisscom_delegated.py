"""Delegated mode (`swisscom_token_validation`): Swisscom makes, sends and checks the
token — here a local fake of its API over loopback — while our statuses, attempt limits and
records still apply."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from tests.conftest import API_KEY, TAG_KEY
from tests.support.fake_swisscom import ALPHABETS, FakeSwisscom, Fault
from tests.support.helpers import Api, check_config, open_api
from tests.support.redis_server import RedisServer
from verify_service.config import ConfigError, Settings
from verify_service.store import Store, keys

TO = "+41791234567"


@pytest.fixture
def fake() -> Iterator[FakeSwisscom]:
    server = FakeSwisscom().start()
    yield server
    server.stop()


def delegated(make_settings: Callable[..., Settings], url: str, **service: Any) -> Settings:
    return make_settings(
        providers={
            "swisscom": {
                "kind": "swisscom_token_validation",
                "base_url": url,
                "client_id": "fake-client-id",
            }
        },
        service={"providers": ["swisscom"], "max_check_attempts": 3, **service},
    )


@pytest.fixture
async def api(
    store: Store, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> AsyncIterator[Api]:
    async with open_api(delegated(make_settings, fake.url), store, API_KEY) as a:
        yield a


def token_of(fake: FakeSwisscom, to: str = TO) -> str:
    return fake.last_token_text(to).rsplit(" ", 1)[-1]


async def check(api: Api, code: str, to: str = TO) -> dict[str, Any]:
    r = await api.post("/v1/verifications/check", {"to": to, "code": code})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("ours", "theirs", "length"),
    [
        ("numeric", "SHORT_NUMERIC", 6),
        ("alphanumeric", "SHORT_ALPHANUMERIC", 8),
        ("alphanumeric_mixed", "SHORT_SMALL_AND_CAPITAL", 10),
    ],
)
async def test_start_asks_swisscom_and_its_token_approves(
    api: Api, fake: FakeSwisscom, ours: str, theirs: str, length: int
) -> None:
    r = await api.post(
        "/v1/verifications",
        {"to": "079 123 45 67", "token_type": ours, "token_length": length, "expires_in": 120},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    assert r.json()["token_length"] == length
    assert r.json()["send_attempts"][0]["provider"] == "swisscom"
    assert r.json()["send_attempts"][0]["status"] == "sent"

    [start] = fake.calls("POST", "/messaging/tokenvalidation")
    assert start.body == {
        "to": TO,
        "text": "Your code is %TOKEN%",  # the template, placeholder kept for Swisscom
        "tokenType": theirs,
        "expireTime": 120,
        "tokenLength": length,
    }
    token = token_of(fake)
    assert len(token) == length
    assert set(token) <= set(ALPHABETS[theirs])

    assert (await check(api, "0" * (length - 1) + "!"))["valid"] is False
    result = await check(api, token)
    assert result["valid"] is True
    assert result["status"] == "approved"
    # Approved is final: Swisscom is not asked again.
    gets = len(fake.calls("GET", "/messaging/tokenvalidation"))
    assert (await check(api, token))["valid"] is False
    assert len(fake.calls("GET", "/messaging/tokenvalidation")) == gets


async def test_no_hash_is_stored_and_no_local_check_can_approve(
    redis_server: RedisServer, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    settings = delegated(make_settings, fake.url)
    async with open_api(settings, Store.from_url(redis_server.url), API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201
    # Read with a client of our own: the app's runs in the test client's event loop.
    raw = redis.Redis.from_url(redis_server.url, decode_responses=True)
    tag = keys.tag_for(TAG_KEY, "login", TO)
    stored = raw.hgetall(f"{keys.prefix(tag)}:v:{r.json()['id']}")
    raw.close()
    # each code is a field `c:<expires_at_ms>`; here its value is the marker, not a hash
    [(field, marker)] = [(k, v) for k, v in stored.items() if k.startswith("c:")]
    assert field[2:].isdigit()
    assert marker.startswith("delegated:")
    codes = marker

    # The same verification served by a config without delegation: nothing approves it.
    local = make_settings()
    async with open_api(local, Store.from_url(redis_server.url), API_KEY) as api:
        for guess in (token_of(fake), codes, "delegated:", ""):
            result = await check(api, guess or "x")
            assert result["valid"] is False


async def test_our_attempt_limit_holds_although_swisscom_would_accept_more(
    api: Api, fake: FakeSwisscom
) -> None:
    await api.post("/v1/verifications", {"to": TO})
    token = token_of(fake)
    wrong = "000000" if token != "000000" else "111111"

    results = []

    async def one() -> None:
        results.append(await check(api, wrong))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)

    # Attempts are reserved before Swisscom is asked: it saw at most our 3.
    assert len(fake.calls("GET", "/messaging/tokenvalidation")) == 3
    assert all(r["valid"] is False for r in results)
    assert {r["status"] for r in results} <= {"pending", "max_attempts_reached"}

    final = await check(api, token)  # the fake would still say SUCCESS
    assert final == {**final, "valid": False, "status": "max_attempts_reached"}
    assert len(fake.calls("GET", "/messaging/tokenvalidation")) == 3


async def test_resend_asks_for_a_new_token_and_limits_apply(
    store: Store, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    settings = delegated(make_settings, fake.url, max_send_attempts=2)
    async with open_api(settings, store, API_KEY) as api:
        assert (await api.post("/v1/verifications", {"to": TO})).status_code == 201
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201
        assert len(r.json()["send_attempts"]) == 2
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 429
        assert r.json()["code"] == "max_send_attempts"
        assert len(fake.calls("POST", "/messaging/tokenvalidation")) == 2
        assert (await check(api, token_of(fake)))["valid"] is True


async def test_unknown_token_as_404_is_failed(api: Api, fake: FakeSwisscom) -> None:
    fake.unknown_token_status = 404
    await api.post("/v1/verifications", {"to": TO})
    result = await check(api, "abcdef")
    assert result["valid"] is False
    assert result["status"] == "pending"
    assert result["attempts_remaining"] == 2


async def test_quota_on_start_is_provider_unavailable(api: Api, fake: FakeSwisscom) -> None:
    fake.faults.append(Fault(429, "quota of the month"))
    r = await api.post("/v1/verifications", {"to": TO})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unavailable"
    assert "EXPIRED_QUOTA" in r.json()["detail"]
    assert len(fake.calls("POST", "/messaging/tokenvalidation")) == 1  # not hammered


async def test_quota_on_check_is_provider_unavailable_and_counts(
    api: Api, fake: FakeSwisscom
) -> None:
    await api.post("/v1/verifications", {"to": TO})
    fake.faults.append(Fault(429))
    r = await api.post("/v1/verifications/check", {"to": TO, "code": token_of(fake)})
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unavailable"
    assert "EXPIRED_QUOTA" in r.json()["detail"]
    result = await check(api, token_of(fake))
    assert result["valid"] is True


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_bad_client_id_is_a_logged_configuration_error(
    store: Store, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    fake.client_id = "another"
    # Our own handler: the app's logging set-up replaces the root handlers caplog relies on.
    seen = Records()
    logger = logging.getLogger("verify_service.providers.swisscom")
    logger.addHandler(seen)
    try:
        async with open_api(delegated(make_settings, fake.url), store, API_KEY) as api:
            r = await api.post("/v1/verifications", {"to": TO})
    finally:
        logger.removeHandler(seen)
    assert r.status_code == 502
    assert r.json()["code"] == "provider_unavailable"
    assert "INVALID_AUTHENTICATION_CREDENTIALS" in r.json()["detail"]
    errors = [rec.getMessage() for rec in seen.records if rec.levelno == logging.ERROR]
    assert any("configuration error" in m and "client_id" in m for m in errors)


async def test_test_numbers_never_reach_swisscom(
    store: Store, make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    settings = delegated(make_settings, fake.url, test_numbers={"+41790000000": "123456"})
    async with open_api(settings, store, API_KEY) as api:
        assert (await api.post("/v1/verifications", {"to": "+41790000000"})).status_code == 201
        assert (await check(api, "123456", "+41790000000"))["valid"] is True
    assert fake.requests == []


def test_delegating_provider_must_be_alone(
    make_settings: Callable[..., Settings], fake: FakeSwisscom
) -> None:
    # Refused when the settings load (check-config, serve), not first when the app is built.
    with pytest.raises(ConfigError, match=re.escape("must be the service's only provider")):
        make_settings(
            providers={
                "capture": {"kind": "capture"},
                "swisscom": {"kind": "swisscom_token_validation", "client_id": "x"},
            },
            service={"providers": ["swisscom", "capture"]},
        )


async def test_drop_in_api_on_a_delegating_service(api: Api, fake: FakeSwisscom) -> None:
    """Swisscom's API in front, Swisscom behind: our limits sit in between."""
    headers = {
        "SCS-Version": "2",
        "client_id": API_KEY,
        "Accept": "application/json",
        "SCS-Request-ID": "r1",
    }
    body = {"to": "0791234567", "text": "Code: %TOKEN%", "tokenType": "SHORT_ALPHANUMERIC"}
    r = await api.client.post("/messaging/tokenvalidation", json=body, headers=headers)
    assert r.status_code == 201, r.text
    [start] = fake.calls("POST", "/messaging/tokenvalidation")
    assert start.body["tokenType"] == "SHORT_ALPHANUMERIC"
    assert start.body["to"] == TO
    assert start.body["expireTime"] == 600  # the service's default
    token = token_of(fake)
    for _ in range(3):
        r = await api.client.get(f"/messaging/tokenvalidation/{TO}/WRONG1", headers=headers)
        assert r.json() == {"validation": "FAILED"}
    r = await api.client.get(f"/messaging/tokenvalidation/{TO}/{token}", headers=headers)
    assert r.json() == {"validation": "FAILED"}  # locked by us; the fake would accept it
    assert len(fake.calls("GET", "/messaging/tokenvalidation")) == 3


@pytest.mark.system  # runs the CLI in a process of its own
def test_check_config_refuses_a_delegating_provider_with_others(tmp_path: Path) -> None:
    config = tmp_path / "verify.toml"
    config.write_text(
        'pepper = "env:P"\n'
        '[providers.swisscom]\nkind = "swisscom_token_validation"\nclient_id = "env:SC"\n'
        '[providers.c]\nkind = "console"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["swisscom", "c"]\n'
    )
    out = check_config(config, {"P": "p" * 32, "K": "key-0123456789abcdef", "SC": "client"})
    assert out.returncode == 2
    assert "must be the service's only provider" in out.stderr
    assert "Traceback" not in out.stderr
