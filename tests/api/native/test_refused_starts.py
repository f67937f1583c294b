"""Issue 15.2: a start that the cooldown or the send limit refuses costs no argon2 hash
(the store decides before the code is drawn and hashed), on both stores; a start that is
allowed still stores its code's hash only once the send went out."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import API_KEY
from tests.support.abuse_helpers import GUARD_OFF, NO_LIMITS
from tests.support.helpers import open_api
from verify_service.config import Settings
from verify_service.store import Store

TO = "+41791234567"
ABUSE_OFF = {"rate_limits": NO_LIMITS, "fraud_guard": GUARD_OFF}  # only the store refuses


async def test_resend_too_soon_costs_no_hash(
    store: Store, make_settings: Callable[..., Settings], argon2_runs: list[int]
) -> None:
    settings = make_settings(service={"resend_cooldown": 60, **ABUSE_OFF})
    async with open_api(settings, store, API_KEY) as api:
        assert (await api.post("/v1/verifications", {"to": TO})).status_code == 201
        assert len(argon2_runs) == 1
        for _ in range(10):
            r = await api.post("/v1/verifications", {"to": TO})
            assert r.status_code == 429
            assert r.json()["code"] == "resend_too_soon"
        assert len(argon2_runs) == 1
        # The code that went out still approves.
        r = await api.post("/v1/verifications/check", {"to": TO, "code": api.last_code(TO)})
        assert r.json()["valid"] is True


async def test_max_send_attempts_costs_no_hash(
    store: Store, make_settings: Callable[..., Settings], argon2_runs: list[int]
) -> None:
    settings = make_settings(service={"max_send_attempts": 2, **ABUSE_OFF})
    async with open_api(settings, store, API_KEY) as api:
        for _ in range(2):
            assert (await api.post("/v1/verifications", {"to": TO})).status_code == 201
        assert len(argon2_runs) == 2
        for _ in range(10):
            r = await api.post("/v1/verifications", {"to": TO})
            assert r.json()["code"] == "max_send_attempts"
        assert len(argon2_runs) == 2
        # Both codes sent are valid (a resend adds a code, it does not replace one).
        first, second = (m.text.rsplit(" ", 1)[-1] for m in api.captured().sent_to(TO))
        r = await api.post("/v1/verifications/check", {"to": TO, "code": first})
        assert r.json()["valid"] is True, second
