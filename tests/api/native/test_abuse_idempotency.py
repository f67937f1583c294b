"""Idempotency-Key: a retried start (same key, same body) within 24 h gets the first answer
and sends nothing; the same key with another body is refused."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.abuse_helpers import only, open_client
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
TO = "+41791234567"


def settings_for(make_settings: MakeSettings) -> Settings:
    shop = {"name": "shop", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["capture"]}
    return make_settings(
        service={"rate_limits": only(per_number=["1/10minutes"])}, extra_services=[shop]
    )


async def test_same_key_same_body_replays_the_first_answer_without_sending(
    store: Store, make_settings: MakeSettings
) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        body = {"to": TO, "metadata": {"user": "42"}}
        first = await api.post("/v1/verifications", body, **{"Idempotency-Key": "k-1"})
        assert first.status_code == 201
        again = await api.post("/v1/verifications", body, **{"Idempotency-Key": "k-1"})
        # a replay is not a new start: no SMS, and the per-number limit (1) is not used up
        assert again.status_code == 201
        assert again.json() == first.json()
        assert len(api.sent_to(TO)) == 1
        assert again.headers["location"] == first.headers["location"]


async def test_same_key_other_body_is_refused(store: Store, make_settings: MakeSettings) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TO}, **{"Idempotency-Key": "k-2"})
        r = await api.post(
            "/v1/verifications", {"to": "+41791234568"}, **{"Idempotency-Key": "k-2"}
        )
        assert r.status_code == 422
        assert r.json()["code"] == "idempotency_key_reused"
        assert api.sent_to("+41791234568") == []


async def test_keys_belong_to_one_service(store: Store, make_settings: MakeSettings) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        body = {"to": TO}
        login = await api.post("/v1/verifications", body, **{"Idempotency-Key": "k-3"})
        shop = await api.post(
            "/v1/verifications", body, key=OTHER_KEY, **{"Idempotency-Key": "k-3"}
        )
        assert shop.status_code == 201
        assert shop.json()["id"] != login.json()["id"]
        assert shop.json()["service"] == "shop"
        assert len(api.sent_to(TO)) == 2


async def test_a_refused_start_does_not_use_up_the_key(
    store: Store, make_settings: MakeSettings
) -> None:
    async with open_client(settings_for(make_settings), store, API_KEY) as api:
        await api.post("/v1/verifications", {"to": TO})
        r = await api.post("/v1/verifications", {"to": TO}, **{"Idempotency-Key": "k-4"})
        assert r.json()["code"] == "rate_limited"
        r = await api.post("/v1/verifications", {"to": TO}, **{"Idempotency-Key": "k-4"})
        assert r.json()["code"] == "rate_limited"  # not a replay of the refusal, a new try
        r = await api.post(
            "/v1/verifications", {"to": "+41791234568"}, **{"Idempotency-Key": "k-4"}
        )
        assert r.status_code == 201
