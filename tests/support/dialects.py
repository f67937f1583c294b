"""The same start and check in each API dialect, over the in-process app (`Api`): for
tests that hold a rule to all three (native v1, Twilio v2, Swisscom)."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.support.helpers import Api

SWISSCOM = "/messaging/tokenvalidation"


def _service(api: Api) -> Any:
    return api.components.settings.services[0]


def twilio_headers(api: Api) -> dict[str, str]:
    account = _service(api).twilio_account_sid
    raw = base64.b64encode(f"{account}:{api.api_key}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def twilio_path(api: Api, tail: str) -> str:
    return f"/v2/Services/{_service(api).twilio_service_sid}/{tail}"


def swisscom_headers(api: Api) -> dict[str, str]:
    return {"SCS-Version": "2", "client_id": api.api_key, "Accept": "application/json"}


async def v1_start(api: Api, to: str, **body: Any) -> httpx.Response:
    r = await api.post("/v1/verifications", {"to": to, **body})
    assert r.status_code == 201, r.text
    return r


async def v1_check(api: Api, to: str, code: str) -> dict[str, Any]:
    r = await api.post("/v1/verifications/check", {"to": to, "code": code})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def twilio_start(api: Api, to: str, **form: str) -> httpx.Response:
    r = await api.client.post(
        twilio_path(api, "Verifications"),
        data={"To": to, "Channel": "sms", **form},
        headers=twilio_headers(api),
    )
    assert r.status_code == 201, r.text
    return r


async def twilio_check(api: Api, to: str, code: str) -> httpx.Response:
    """The raw answer: 200 with the check resource, or a Twilio error (404, 429)."""
    return await api.client.post(
        twilio_path(api, "VerificationCheck"),
        data={"To": to, "Code": code},
        headers=twilio_headers(api),
    )


async def swisscom_start(api: Api, to: str, **body: Any) -> httpx.Response:
    text = {"to": to, "text": "Your code is %TOKEN%", **body}
    headers = {**swisscom_headers(api), "Content-Type": "application/json"}
    r = await api.client.post(SWISSCOM, json=text, headers=headers)
    assert r.status_code == 201, r.text
    return r


async def swisscom_check(api: Api, msisdn: str, token_path: str) -> str:
    """`token_path` goes into the URL as given (percent-encode it yourself); the answer's
    SUCCESS or FAILED."""
    r = await api.client.get(f"{SWISSCOM}/{msisdn}/{token_path}", headers=swisscom_headers(api))
    assert r.status_code == 200, r.text
    validation: str = r.json()["validation"]
    return validation
