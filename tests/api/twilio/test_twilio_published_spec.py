"""Our Twilio resources against Twilio's own published description of Verify v2.

Twilio publishes the API as OpenAPI 3.0 in github.com/twilio/twilio-oai, file
`spec/json/twilio_verify_v2.json` (read at commit d50069b, 2026-04-14). The facts that
matter to a client are written here in Twilio's own terms (OpenAPI 3.0, `nullable`) rather
than copied: each resource's property names, types, SID patterns, formats and enums, the
`ListServiceResponse` paging block, the request enums (Channel, update Status), the list
parameters, and the shapes of Twilio's examples where the schema leaves them open
(`send_code_attempts[]`, the service's `push`/`totp`/`whatsapp`/`passkeys`).

Every operation we serve is called and its answer validated against these facts; the
property set must be exactly Twilio's, so that a client reading any field finds it."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from litestar.testing import TestClient
from openapi_schema_validator import OAS30Validator

from tests.conftest import API_KEY, config
from tests.support.helpers import sent_code
from verify_service.api.app import create_app
from verify_service.api.twilio.schemas import verification_resource
from verify_service.cli import openapi_document
from verify_service.config import settings_from_mapping
from verify_service.domain.model import SendAttempt, Status, Verification
from verify_service.domain.tokens import TokenType

# --- Twilio's facts (verify.v2.* schemas of twilio_verify_v2.json) ------------------------


def _nullable(type_: str | None = None, **more: Any) -> dict[str, Any]:
    return {**({"type": type_} if type_ else {}), "nullable": True, **more}


def _sid(prefix: str) -> dict[str, Any]:
    pattern = f"^{prefix}[0-9a-fA-F]{{32}}$"
    return _nullable("string", minLength=34, maxLength=34, pattern=pattern)


DATE = _nullable("string", format="date-time")
URI = _nullable("string", format="uri")
CHANNELS = ["sms", "call", "email", "whatsapp", "sna"]  # verification(_check)_enum_channel

# The properties both verification resources share, then each one's own.
_VERIFICATION_BOTH: dict[str, Any] = {
    "sid": _sid("VE"),
    "service_sid": _sid("VA"),
    "account_sid": _sid("AC"),
    "to": _nullable("string"),
    "channel": {"type": "string", "enum": CHANNELS},
    "status": _nullable("string"),
    "valid": _nullable("boolean"),
    "amount": _nullable("string"),
    "payee": _nullable("string"),
    "date_created": DATE,
    "date_updated": DATE,
}
VERIFICATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_VERIFICATION_BOTH,
        "lookup": _nullable(),
        "send_code_attempts": _nullable("array", items={}),
        "sna": _nullable(),
        "url": URI,
    },
}
VERIFICATION_CHECK: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_VERIFICATION_BOTH,
        "sna_attempts_error_codes": _nullable("array", items={}),
    },
}

SERVICE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sid": _sid("VA"),
        "account_sid": _sid("AC"),
        "friendly_name": _nullable("string"),
        "code_length": {"type": "integer"},
        "lookup_enabled": _nullable("boolean"),
        "psd2_enabled": _nullable("boolean"),
        "skip_sms_to_landlines": _nullable("boolean"),
        "dtmf_input_required": _nullable("boolean"),
        "tts_name": _nullable("string"),
        "do_not_share_warning_enabled": _nullable("boolean"),
        "custom_code_enabled": _nullable("boolean"),
        "push": _nullable(),
        "totp": _nullable(),
        "default_template_sid": _sid("HJ"),
        "whatsapp": _nullable(),
        "passkeys": _nullable(),
        "verify_event_subscription_enabled": _nullable("boolean"),
        "date_created": DATE,
        "date_updated": DATE,
        "url": URI,
        "links": _nullable("object"),
    },
}

_PAGE_URL = {"type": "string", "format": "uri"}
LIST_SERVICES: dict[str, Any] = {  # ListServiceResponse
    "type": "object",
    "properties": {
        "services": {"type": "array", "items": SERVICE},
        "meta": {
            "type": "object",
            "properties": {
                "first_page_url": _PAGE_URL,
                "key": {"type": "string"},
                "next_page_url": {**_PAGE_URL, "nullable": True},
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "previous_page_url": {**_PAGE_URL, "nullable": True},
                "url": _PAGE_URL,
            },
        },
    },
}

# Twilio's examples, where its schema leaves the value open.
SEND_CODE_ATTEMPT_KEYS = {"time", "channel", "attempt_sid"}
SERVICE_SETTINGS_KEYS = {
    "push": {"include_date", "apn_credential_sid", "fcm_credential_sid"},
    "totp": {"issuer", "time_step", "code_length", "skew"},
    "whatsapp": {"msg_service_sid", "from"},
    "passkeys": {
        "relying_party",
        "authenticator_attachment",
        "discoverable_credentials",
        "user_verification",
    },
}
TWILIO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # every date in its examples

# Request facts: the create form's Channel enum, the update form's Status enum, paging.
UPDATE_STATUS = ["canceled", "approved"]  # verification_enum_status
PAGE_SIZE = {"minimum": 1, "maximum": 1000}


# --- the check ----------------------------------------------------------------------------


def conforms(body: Any, schema: dict[str, Any]) -> None:
    """Valid against Twilio's schema, every property Twilio names present and no other,
    every date in Twilio's format and every URI absolute."""
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(body)
    assert set(body) == set(schema["properties"]), set(body) ^ set(schema["properties"])
    for name, rule in schema["properties"].items():
        value = body[name]
        if rule.get("format") == "date-time" and value is not None:
            assert TWILIO_DATE.match(value), (name, value)
        if rule.get("format") == "uri" and value is not None:
            assert urlparse(value).scheme in ("http", "https"), (name, value)


SETTINGS = settings_from_mapping(config(), environ={})
ACCOUNT = SETTINGS.services[0].twilio_account_sid
SID = SETTINGS.services[0].twilio_service_sid
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{API_KEY}".encode()).decode()}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS)) as c:
        yield c


def test_the_five_operations_answer_as_twilio_describes(client: TestClient[Any]) -> None:
    base = f"/v2/Services/{SID}"
    r = client.post(
        f"{base}/Verifications", data={"To": "+41791616001", "Channel": "sms"}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    created = r.json()
    conforms(created, VERIFICATION)
    (attempt,) = created["send_code_attempts"]
    assert set(attempt) == SEND_CODE_ATTEMPT_KEYS
    assert attempt["channel"] == "SMS"
    assert TWILIO_DATE.match(attempt["time"])
    assert re.fullmatch(r"VL[0-9a-f]{32}", attempt["attempt_sid"])
    assert created["lookup"] == {}

    r = client.get(f"{base}/Verifications/{created['sid']}", headers=AUTH)
    assert r.status_code == 200
    conforms(r.json(), VERIFICATION)

    code = sent_code(client.app.state.components, "+41791616001")
    r = client.post(
        f"{base}/VerificationCheck", data={"To": "+41791616001", "Code": code}, headers=AUTH
    )
    assert r.status_code == 200
    conforms(r.json(), VERIFICATION_CHECK)
    assert (r.json()["status"], r.json()["valid"]) == ("approved", True)

    second = client.post(
        f"{base}/Verifications", data={"To": "+41791616002", "Channel": "sms"}, headers=AUTH
    ).json()
    r = client.post(
        f"{base}/Verifications/{second['sid']}", data={"Status": "canceled"}, headers=AUTH
    )
    assert r.status_code == 200
    conforms(r.json(), VERIFICATION)
    assert r.json()["status"] == "canceled"

    r = client.get(base, headers=AUTH)
    assert r.status_code == 200
    conforms(r.json(), SERVICE)
    for name, keys in SERVICE_SETTINGS_KEYS.items():
        assert set(r.json()[name]) == keys, name


def test_the_service_list_answers_as_twilio_describes(client: TestClient[Any]) -> None:
    r = client.get("/v2/Services", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    OAS30Validator(LIST_SERVICES, format_checker=OAS30Validator.FORMAT_CHECKER).validate(body)
    assert set(body) == {"services", "meta"}
    assert set(body["meta"]) == set(LIST_SERVICES["properties"]["meta"]["properties"])
    assert body["meta"]["key"] == "services"
    assert body["meta"]["page_size"] == 50  # Twilio's default
    for service in body["services"]:
        conforms(service, SERVICE)


def test_our_document_agrees_with_twilios_on_request_enums_and_dates() -> None:
    """What generated clients read from openapi.yaml: the request enums within Twilio's,
    and every Twilio date typed as a date-time (not a bare string)."""
    doc = yaml.safe_load(openapi_document())
    schemas = doc["components"]["schemas"]
    create = schemas["CreateVerificationForm"]["properties"]["Channel"]
    served = set(create.get("enum", [create.get("const")]))
    assert served == {"sms", "whatsapp", "call", "email"}  # ours (api/twilio/schemas.py)
    assert served <= set(CHANNELS)  # each in Twilio's own words
    assert schemas["UpdateVerificationForm"]["properties"]["Status"]["enum"] == UPDATE_STATUS
    for name in ("VerificationResource", "VerificationCheckResource", "ServiceResource"):
        for field in ("date_created", "date_updated"):
            rule = schemas[name]["properties"][field]
            formats = [rule.get("format")] + [o.get("format") for o in rule.get("oneOf", [])]
            assert "date-time" in formats, (name, field)
    assert schemas["SendCodeAttempt"]["properties"]["time"]["format"] == "date-time"
    assert schemas["SendAttemptOut"]["properties"]["at"]["format"] == "date-time"  # native
    page_size = next(
        p for p in doc["paths"]["/v2/Services"]["get"]["parameters"] if p["name"] == "PageSize"
    )
    assert page_size["schema"]["minimum"] == PAGE_SIZE["minimum"]
    assert page_size["schema"]["maximum"] == PAGE_SIZE["maximum"]


def test_an_expired_verification_was_updated_when_it_expired() -> None:
    """Expiry is judged when read, no write: the resource still dates the change."""
    created = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    expired = Verification(
        id="ver_" + "1" * 32,
        service="login",
        to="+41791616003",
        channel="sms",
        status=Status.EXPIRED,
        token_type=TokenType.NUMERIC,
        token_length=6,
        created_at=created,
        expires_at=created + timedelta(minutes=10),
        check_attempts=0,
        max_check_attempts=5,
        attempts_remaining=0,
        send_attempts=(SendAttempt(at=created, provider="capture", message_id="m", status="sent"),),
        updated_at=created,
    )
    resource = verification_resource(expired, SETTINGS.services[0], "http://x")
    assert resource.date_created == "2026-01-02T03:04:05Z"
    assert resource.date_updated == "2026-01-02T03:14:05Z"
    assert resource.send_code_attempts[0].time == "2026-01-02T03:04:05Z"  # no milliseconds
    pending = dataclasses.replace(expired, status=Status.PENDING)
    resource = verification_resource(pending, SETTINGS.services[0], "http://x")
    assert resource.date_updated == "2026-01-02T03:04:05Z"
