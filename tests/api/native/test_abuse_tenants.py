"""Tenants: each service has its own keys, providers and policy. One service's key cannot
see or check another's verifications, and one number in two services is two verifications."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import API_KEY, OTHER_KEY
from tests.support.abuse_helpers import only, open_client
from verify_service.config import Settings, hash_api_key
from verify_service.store import Store

MakeSettings = Callable[..., Settings]
TO = "+41791234567"


def two_services(make_settings: MakeSettings) -> Settings:
    shop = {
        "name": "shop",
        "api_keys": [hash_api_key(OTHER_KEY)],
        "providers": ["capture_shop"],
        "template": "Shop code %TOKEN%",
        "resend_cooldown": 0,
        "rate_limits": only(),
    }
    return make_settings(
        providers={"capture": {"kind": "capture"}, "capture_shop": {"kind": "capture"}},
        service={"rate_limits": only(per_number=["1/10minutes"])},
        extra_services=[shop],
    )


async def test_a_key_cannot_reach_another_services_verification(
    store: Store, make_settings: MakeSettings
) -> None:
    async with open_client(two_services(make_settings), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 201
        vid = r.json()["id"]
        code = api.last_code(TO)

        assert (await api.get(f"/v1/verifications/{vid}", key=OTHER_KEY)).status_code == 404
        r = await api.post(f"/v1/verifications/{vid}/cancel", key=OTHER_KEY)
        assert r.json()["code"] == "verification_not_found"
        for body in ({"verification_id": vid, "code": code}, {"to": TO, "code": code}):
            r = await api.post("/v1/verifications/check", body, key=OTHER_KEY)
            assert r.status_code == 404
            assert r.json()["code"] == "verification_not_found"

        # none of that touched it: its own service still approves with all attempts
        r = await api.get(f"/v1/verifications/{vid}")
        assert r.json()["status"] == "pending"
        assert r.json()["check_attempts"] == 0
        r = await api.post("/v1/verifications/check", {"verification_id": vid, "code": code})
        assert r.json()["valid"] is True


async def test_one_number_in_two_services_is_two_verifications(
    store: Store, make_settings: MakeSettings
) -> None:
    async with open_client(two_services(make_settings), store, API_KEY) as api:
        login = (await api.post("/v1/verifications", {"to": TO})).json()
        shop = (await api.post("/v1/verifications", {"to": TO}, key=OTHER_KEY)).json()
        assert login["id"] != shop["id"]
        assert (login["service"], shop["service"]) == ("login", "shop")
        # each service's own provider and template
        assert api.sent_to(TO, "capture")[-1].startswith("Your code is ")
        assert api.sent_to(TO, "capture_shop")[-1].startswith("Shop code ")
        login_code, shop_code = api.last_code(TO), api.last_code(TO, "capture_shop")

        if login_code != shop_code:  # one service's code does not open the other
            r = await api.post(
                "/v1/verifications/check", {"to": TO, "code": login_code}, key=OTHER_KEY
            )
            assert r.json()["valid"] is False
        r = await api.post("/v1/verifications/check", {"to": TO, "code": shop_code}, key=OTHER_KEY)
        assert r.json()["valid"] is True
        r = await api.get(f"/v1/verifications/{login['id']}")
        assert r.json()["status"] == "pending"


async def test_policies_are_per_service(store: Store, make_settings: MakeSettings) -> None:
    async with open_client(two_services(make_settings), store, API_KEY) as api:
        assert (await api.post("/v1/verifications", {"to": TO})).status_code == 201
        r = await api.post("/v1/verifications", {"to": TO})
        assert r.status_code == 429  # login allows one start per number per 10 minutes
        for _ in range(3):  # shop has no such limit
            assert (
                await api.post("/v1/verifications", {"to": TO}, key=OTHER_KEY)
            ).status_code == 201
