"""The login flow of the README, through HTTP, on both stores."""

from __future__ import annotations

from tests.support.helpers import Api


async def test_start_check_wrong_then_right_then_replay(api: Api) -> None:
    r = await api.post("/v1/verifications", {"to": "079 123 45 67"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["to"] == "+41791234567"
    assert body["status"] == "pending"
    assert r.headers["location"] == f"/v1/verifications/{body['id']}"
    code = api.last_code("+41791234567")
    assert len(code) == 6
    assert code.isdigit()

    wrong = "000000" if code != "000000" else "111111"
    r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": wrong})
    assert r.json() == {
        "id": body["id"],
        "status": "pending",
        "valid": False,
        "attempts_remaining": 4,
    }

    r = await api.post("/v1/verifications/check", {"verification_id": body["id"], "code": code})
    assert r.json()["valid"] is True
    assert r.json()["status"] == "approved"

    r = await api.post("/v1/verifications/check", {"to": "+41791234567", "code": code})
    assert r.status_code == 200
    assert r.json()["valid"] is False
    assert r.json()["status"] == "approved"
