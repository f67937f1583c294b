"""Twilio Verify v2 shapes: the form bodies Twilio's SDKs send (PascalCase fields) and the
JSON resources they read back, plus the 1:1 mapping of our ids to Twilio SIDs."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import KwargDefinition
from msgspec import Meta

from verify_service.config import ServiceSettings
from verify_service.domain.channels import twilio_channel
from verify_service.domain.model import CheckResult, Verification
from verify_service.domain.tokens import MAX_LENGTH, MIN_LENGTH

# Twilio's date format: second precision, `Z`. Its SDKs parse exactly this and nothing else.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A date on the wire: a string in DATE_FORMAT, `format: date-time` in the OpenAPI document.
TwilioDate = Annotated[str, KwargDefinition(format=OpenAPIFormat.DATE_TIME)]

# Our ids are `ver_` + 32 hex (store/keys.py); the API layer does not import the store.
ID_PREFIX = "ver_"
_VE_SID = re.compile(r"^VE([0-9a-fA-F]{32})$")
_OUR_ID = re.compile(rf"^{ID_PREFIX}([0-9a-f]{{32}})$")

# Twilio's statuses are a superset of ours (it adds `deleted`, which we never report).
TwilioStatus = Literal[
    "pending", "approved", "canceled", "max_attempts_reached", "deleted", "failed", "expired"
]


def verification_sid(verification_id: str) -> str:
    """`ver_<hex>` -> `VE<hex>`: the same 32 hex digits, so a fetch by SID is one lookup."""
    match = _OUR_ID.match(verification_id)
    if match is None:
        raise ValueError(f"not a verification id: {verification_id!r}")
    return "VE" + match.group(1)


def verification_id(sid: str) -> str | None:
    """`VE<hex>` -> `ver_<hex>`; None for anything that is not a Verification SID."""
    match = _VE_SID.match(sid)
    return f"{ID_PREFIX}{match.group(1).lower()}" if match else None


def attempt_sid(verification_id: str, index: int) -> str:
    """A stable `VL…` SID per send attempt (Twilio names each attempt; we number them)."""
    return "VL" + hashlib.sha256(f"{verification_id}\x00{index}".encode()).hexdigest()[:32]


def twilio_date(value: datetime | None) -> str | None:
    return value.strftime(DATE_FORMAT) if value is not None else None


# --- form bodies -------------------------------------------------------------------------

Locale = Annotated[
    str, Meta(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$")
]


class CreateVerificationForm(msgspec.Struct, rename="pascal", kw_only=True):
    """`POST /v2/Services/{ServiceSid}/Verifications`. Fields Twilio knows and we do not are
    ignored, except those whose silent loss would change what is sent (CustomCode, …)."""

    to: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=254,
            description="E.164 phone number, or an email address for `email`.",
        ),
    ]
    channel: Annotated[
        Literal["sms", "whatsapp", "call", "email"],
        Meta(description="As the service enables them."),
    ]
    locale: Locale | None = None
    custom_friendly_name: (
        Annotated[str, Meta(max_length=30, description="Accepted; see README.")] | None
    ) = None
    code_length: (
        Annotated[
            int,
            Meta(
                ge=MIN_LENGTH,
                le=MAX_LENGTH,
                description="Extension: code length within the service's range.",
            ),
        ]
        | None
    ) = None
    custom_code: Annotated[str, Meta(description="Not supported (60204).")] | None = None
    custom_message: Annotated[str, Meta(description="Not supported (60204).")] | None = None
    amount: Annotated[str, Meta(description="PSD2: not supported (60204).")] | None = None
    payee: Annotated[str, Meta(description="PSD2: not supported (60204).")] | None = None
    template_sid: Annotated[str, Meta(description="Not supported (60204).")] | None = None


class UpdateVerificationForm(msgspec.Struct, rename="pascal", kw_only=True):
    status: Literal["canceled", "approved"]


class VerificationCheckForm(msgspec.Struct, rename="pascal", kw_only=True):
    code: Annotated[str, Meta(min_length=1, max_length=64)]
    to: Annotated[str, Meta(min_length=1, max_length=254)] | None = None
    verification_sid: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    amount: Annotated[str, Meta(description="PSD2: not supported (60204).")] | None = None
    payee: Annotated[str, Meta(description="PSD2: not supported (60204).")] | None = None


# --- resources ---------------------------------------------------------------------------


class SendCodeAttempt(msgspec.Struct, kw_only=True):
    attempt_sid: str
    channel: Annotated[str, Meta(description="Upper case, as Twilio's examples: `SMS`.")]
    time: TwilioDate


class VerificationResource(msgspec.Struct, kw_only=True):
    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: str
    status: TwilioStatus
    valid: bool
    lookup: dict[str, Any]
    amount: str | None
    payee: str | None
    send_code_attempts: list[SendCodeAttempt]
    date_created: TwilioDate
    date_updated: TwilioDate | None
    sna: dict[str, Any] | None
    url: str


class VerificationCheckResource(msgspec.Struct, kw_only=True):
    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: str
    status: TwilioStatus
    valid: bool
    amount: str | None
    payee: str | None
    date_created: TwilioDate
    date_updated: TwilioDate | None
    sna_attempts_error_codes: list[dict[str, Any]]


# The service's channel settings, with the keys Twilio shows and nothing set: this service
# has no push, TOTP, WhatsApp or passkey channel.
class PushSettings(msgspec.Struct, kw_only=True):
    include_date: bool
    apn_credential_sid: str | None
    fcm_credential_sid: str | None


class TotpSettings(msgspec.Struct, kw_only=True):
    issuer: str | None
    time_step: int | None
    code_length: int | None
    skew: int | None


class WhatsAppSettings(msgspec.Struct, kw_only=True, rename={"from_": "from"}):
    msg_service_sid: str | None
    from_: str | None


class RelyingParty(msgspec.Struct, kw_only=True):
    id: str | None
    name: str | None
    origins: list[str] | None


class PasskeysSettings(msgspec.Struct, kw_only=True):
    relying_party: RelyingParty
    authenticator_attachment: str | None
    discoverable_credentials: str | None
    user_verification: str | None


class ServiceResource(msgspec.Struct, kw_only=True):
    sid: str
    account_sid: str
    friendly_name: str
    code_length: int
    lookup_enabled: bool
    psd2_enabled: bool
    skip_sms_to_landlines: bool
    dtmf_input_required: bool
    tts_name: str | None
    do_not_share_warning_enabled: bool
    custom_code_enabled: bool
    push: PushSettings
    totp: TotpSettings
    default_template_sid: str | None
    whatsapp: WhatsAppSettings
    passkeys: PasskeysSettings
    verify_event_subscription_enabled: bool
    date_created: TwilioDate | None
    date_updated: TwilioDate | None
    url: str
    links: dict[str, str]


class TwilioErrorOut(msgspec.Struct, kw_only=True):
    code: int
    message: str
    more_info: str
    status: int


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI `responses` of a Twilio route for these error statuses."""
    return {
        status: ResponseSpec(TwilioErrorOut, description="Twilio error", generate_examples=False)
        for status in statuses
    }


class ListMeta(msgspec.Struct, kw_only=True):
    """Twilio's paging block: `key` names the list's field; URLs are absolute."""

    page: int
    page_size: int
    first_page_url: str
    previous_page_url: str | None
    url: str
    next_page_url: str | None
    key: str


class ServiceList(msgspec.Struct, kw_only=True):
    services: list[ServiceResource]
    meta: ListMeta


def _updated(v: Verification) -> datetime:
    """When the verification last changed. Expiry is no write (the status is judged when read),
    yet an expired verification changed when it expired: its `date_updated` says so."""
    updated = v.updated_at or v.created_at
    if v.status == "expired":
        return max(updated, v.expires_at)
    return updated


def verification_resource(
    v: Verification, service: ServiceSettings, base_url: str
) -> VerificationResource:
    sid = verification_sid(v.id)
    return VerificationResource(
        sid=sid,
        service_sid=service.twilio_service_sid,
        account_sid=service.twilio_account_sid,
        to=v.to,
        channel=twilio_channel(v.channel),
        status=v.status.name_literal,
        valid=v.status == "approved",
        lookup={},
        amount=None,
        payee=None,
        send_code_attempts=[
            SendCodeAttempt(
                attempt_sid=attempt_sid(v.id, i),
                channel=twilio_channel(attempt.channel).upper(),  # `SMS` in Twilio's examples
                time=twilio_date(attempt.at) or "",
            )
            for i, attempt in enumerate(v.send_attempts)
        ],
        date_created=twilio_date(v.created_at) or "",
        date_updated=twilio_date(_updated(v)),
        sna=None,
        url=f"{base_url}/v2/Services/{service.twilio_service_sid}/Verifications/{sid}",
    )


def check_resource(result: CheckResult, service: ServiceSettings) -> VerificationCheckResource:
    """The check's answer: its own status and validity, the verification's number and
    dates as the check left them."""
    v = result.verification
    return VerificationCheckResource(
        sid=verification_sid(v.id),
        service_sid=service.twilio_service_sid,
        account_sid=service.twilio_account_sid,
        to=v.to,
        channel=twilio_channel(v.channel),
        status=result.status.name_literal,
        valid=result.valid,
        amount=None,
        payee=None,
        date_created=twilio_date(v.created_at) or "",
        date_updated=twilio_date(_updated(v)),
        sna_attempts_error_codes=[],
    )


def service_resource(service: ServiceSettings, base_url: str) -> ServiceResource:
    url = f"{base_url}/v2/Services/{service.twilio_service_sid}"
    return ServiceResource(
        sid=service.twilio_service_sid,
        account_sid=service.twilio_account_sid,
        friendly_name=service.name,
        code_length=service.token_length,
        lookup_enabled=False,
        psd2_enabled=False,
        skip_sms_to_landlines=False,
        dtmf_input_required=False,
        tts_name=None,
        do_not_share_warning_enabled=False,
        custom_code_enabled=False,
        push=PushSettings(include_date=False, apn_credential_sid=None, fcm_credential_sid=None),
        totp=TotpSettings(issuer=None, time_step=None, code_length=None, skew=None),
        default_template_sid=None,
        whatsapp=WhatsAppSettings(msg_service_sid=None, from_=None),
        passkeys=PasskeysSettings(
            relying_party=RelyingParty(id=None, name=None, origins=None),
            authenticator_attachment=None,
            discoverable_credentials=None,
            user_verification=None,
        ),
        verify_event_subscription_enabled=False,
        date_created=None,
        date_updated=None,
        url=url,
        links={
            "verifications": f"{url}/Verifications",
            "verification_checks": f"{url}/VerificationCheck",
        },
    )
