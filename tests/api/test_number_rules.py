"""A number the service would have to alter to send to is refused in every dialect, in the
dialect's own error, and nothing is sent (README, "number rules").

Observed: `+41 79 123 45 67;ext=12`, `… x12` and `… ext. 12` started a verification for
+41791234567, the extension silently dropped: the code went to the main line, which an
extension's owner does not read. `1-800-FLOWERS` was read as keypad digits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.test_dialect_errors import (
    SETTINGS,
    SID,
    SWISSCOM_HEADERS,
    TWILIO_AUTH,
    assert_problem,
    assert_swisscom,
    assert_twilio,
)
from tests.conftest import API_KEY
from verify_service.api.app import create_app

BEARER = {"Authorization": f"Bearer {API_KEY}"}
REFUSED = {
    "+41 79 123 45 67;ext=12": "extension",
    "+41 79 123 45 67 x12": "extension",
    "+41 79 123 45 67 ext. 12": "extension",
    "+41791234567#12": "extension",
    "+41 79 I23 45 67": "letters",
    "tel:+41791234567": "letters",
    "*+41791234567": "only digits",
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS)) as c:
        yield c


def nothing_sent(client: TestClient[Any]) -> None:
    r = client.get("/v1/test/messages?to=%2B41791234567", headers=BEARER)
    assert r.json()["messages"] == [], r.text


@pytest.mark.parametrize(("to", "why"), list(REFUSED.items()))
def test_v1_refuses_with_invalid_phone_number(client: TestClient[Any], to: str, why: str) -> None:
    body = assert_problem(client.post("/v1/verifications", json={"to": to}, headers=BEARER), 400)
    assert body["code"] == "invalid_phone_number"
    assert why in body["detail"]
    nothing_sent(client)


@pytest.mark.parametrize("to", list(REFUSED))
def test_twilio_refuses_with_invalid_parameter_to(client: TestClient[Any], to: str) -> None:
    r = client.post(
        f"/v2/Services/{SID}/Verifications", data={"To": to, "Channel": "sms"}, headers=TWILIO_AUTH
    )
    body = assert_twilio(r, 400)
    assert (body["code"], body["message"]) == (60200, "Invalid parameter: To")
    nothing_sent(client)


@pytest.mark.parametrize("to", list(REFUSED))
def test_swisscom_refuses_with_invalid_request(client: TestClient[Any], to: str) -> None:
    r = client.post(
        "/messaging/tokenvalidation",
        json={"to": to, "text": "Code %TOKEN%"},
        headers={**SWISSCOM_HEADERS, "Content-Type": "application/json"},
    )
    assert assert_swisscom(r, 400)["code"] == "INVALID_REQUEST"
    nothing_sent(client)


def test_the_checks_refuse_such_numbers_too(client: TestClient[Any]) -> None:
    r = client.post(
        "/v1/verifications/check", json={"to": "+41791234567 x12", "code": "123456"}, headers=BEARER
    )
    assert assert_problem(r, 400)["code"] == "invalid_phone_number"
    r = client.post(
        f"/v2/Services/{SID}/VerificationCheck",
        data={"To": "+41791234567 x12", "Code": "123456"},
        headers=TWILIO_AUTH,
    )
    assert_twilio(r, 400)
