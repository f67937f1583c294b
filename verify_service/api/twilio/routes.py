"""Twilio Verify v2-compatible routes (README "Twilio Verify compatibility"): an application
using Twilio's SDKs switches by pointing them at this service. Translation only: the rules
are those of `verifications`, the words and shapes Twilio's.

Auth is HTTP Basic `AccountSid:AuthToken`: the token is an API key of a service, the
account SID that service's `twilio_account_sid`, and `ServiceSid` its `twilio_service_sid`."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, PathParameter

from verify_service.api.deps import Caller, caller, service_for_key
from verify_service.api.twilio.errors import (
    EXCEPTION_HANDLERS,
    MAX_CHECK_ATTEMPTS,
    NOT_SUPPORTED,
    TwilioError,
    authenticate,
    invalid_parameter,
    not_found,
)
from verify_service.api.twilio.schemas import (
    CreateVerificationForm,
    ServiceResource,
    UpdateVerificationForm,
    VerificationCheckForm,
    VerificationCheckResource,
    VerificationResource,
    check_resource,
    error_responses,
    service_resource,
    verification_id,
    verification_resource,
)
from verify_service.config import ServiceSettings
from verify_service.domain.channels import from_twilio_channel
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams, Status

SECURITY_SCHEME = "twilio_basic"


ServiceSid = Annotated[str, PathParameter(description="The service's `twilio_service_sid` (VA…)")]


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    return error_responses(*statuses)


def _credentials(request: Request[Any, Any, Any]) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise authenticate()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
        raise authenticate() from None
    account_sid, sep, auth_token = decoded.partition(":")
    if not sep or not auth_token:
        raise authenticate()
    return account_sid, auth_token


def account_service(request: Request[Any, Any, Any]) -> ServiceSettings:
    """The service whose API key is the AuthToken, under its own AccountSid; as with Twilio,
    wrong credentials are 401 (20003)."""
    account_sid, auth_token = _credentials(request)
    try:
        service = service_for_key(request, auth_token)
    except VerifyError:
        raise authenticate() from None
    if account_sid != service.twilio_account_sid:
        raise authenticate()
    return service


def twilio_service(request: Request[Any, Any, Any], service_sid: ServiceSid) -> ServiceSettings:
    """account_service(), and a ServiceSid the credentials do not own is 404 (20404)."""
    service = account_service(request)
    if service_sid != service.twilio_service_sid:
        raise not_found(request)
    return service


def twilio_caller(request: Request[Any, Any, Any], service_sid: ServiceSid) -> Caller:
    """twilio_service(), with the use cases and the client's address: one dependency."""
    return caller(request, twilio_service(request, service_sid))


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _our_id(request: Request[Any, Any, Any], sid: str) -> str:
    """Our id for a Verification SID; anything else names no resource (20404, as Twilio)."""
    our_id = verification_id(sid)
    if our_id is None:
        raise not_found(request)
    return our_id


def _unsupported(**fields: str | None) -> None:
    for name, value in fields.items():
        if value is not None:
            raise TwilioError(400, NOT_SUPPORTED, f"Service does not support this feature: {name}")


VerificationSid = Annotated[str, PathParameter(description="Verification SID (VE…)")]
Form = RequestEncodingType.URL_ENCODED


@post(
    "/Services/{service_sid:str}/Verifications",
    status_code=201,
    summary="Start a verification (Twilio Verify v2)",
    operation_id="twilioCreateVerification",
    responses=_errors(400, 401, 403, 404, 429, 503),
)
async def create_verification(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Caller],
    data: Annotated[CreateVerificationForm, Body(media_type=Form)],
) -> VerificationResource:
    service = caller.service
    channel = from_twilio_channel(data.channel)
    if channel is None:
        raise invalid_parameter("Channel")
    _unsupported(
        CustomCode=data.custom_code,
        CustomMessage=data.custom_message,
        Amount=data.amount,
        Payee=data.payee,
        TemplateSid=data.template_sid,
    )
    try:
        verification = await caller.verifications.start(
            service,
            StartParams(
                to=data.to,
                channel=channel,
                token_length=data.code_length,
                locale=data.locale,
                client_ip=caller.client_ip,
            ),
        )
    except VerifyError as exc:
        # Of this form, only the code length can be out of the service's range in start().
        if exc.code == "invalid_request" and data.code_length is not None:
            raise invalid_parameter("CodeLength") from None
        raise
    return verification_resource(verification, service, _base_url(request))


@get(
    "/Services/{service_sid:str}/Verifications/{sid:str}",
    summary="Fetch a verification (Twilio Verify v2)",
    operation_id="twilioFetchVerification",
    responses=_errors(400, 401, 404, 503),
)
async def fetch_verification(
    request: Request[Any, Any, Any],
    service_sid: ServiceSid,
    sid: VerificationSid,
    caller: NamedDependency[Caller],
) -> VerificationResource:
    service = caller.service
    our_id = _our_id(request, sid)
    verification = await caller.verifications.fetch(service, our_id)
    return verification_resource(verification, service, _base_url(request))


@post(
    "/Services/{service_sid:str}/Verifications/{sid:str}",
    status_code=200,
    summary="Cancel, or approve without a code (Twilio Verify v2)",
    operation_id="twilioUpdateVerification",
    responses=_errors(400, 401, 404, 503),
)
async def update_verification(
    request: Request[Any, Any, Any],
    service_sid: ServiceSid,
    sid: VerificationSid,
    caller: NamedDependency[Caller],
    data: Annotated[UpdateVerificationForm, Body(media_type=Form)],
) -> VerificationResource:
    service, verifications = caller.service, caller.verifications
    if data.status not in ("canceled", "approved"):
        raise invalid_parameter("Status")
    our_id = _our_id(request, sid)
    if data.status == "canceled":
        verification = await verifications.cancel(service, our_id)
    else:
        verification = await verifications.approve(service, our_id)
    return verification_resource(verification, service, _base_url(request))


@post(
    "/Services/{service_sid:str}/VerificationCheck",
    status_code=200,
    summary="Check a code, by number or by Verification SID (Twilio Verify v2)",
    operation_id="twilioCheckVerification",
    responses=_errors(400, 401, 404, 429, 503),
)
async def check_verification(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Caller],
    data: Annotated[VerificationCheckForm, Body(media_type=Form)],
) -> VerificationCheckResource:
    service = caller.service
    _unsupported(Amount=data.amount, Payee=data.payee)
    our_id: str | None = None
    if data.verification_sid is not None:
        our_id = _our_id(request, data.verification_sid)
    elif data.to is None:
        raise invalid_parameter("To")
    result = await caller.verifications.check(
        service,
        code=data.code,
        to=data.to if our_id is None else None,
        verification_id=our_id,
        client_ip=caller.client_ip,
    )
    if result.status == Status.MAX_ATTEMPTS_REACHED:
        raise TwilioError(429, MAX_CHECK_ATTEMPTS, "Max check attempts reached")
    if not result.valid and result.status != Status.PENDING:
        # Twilio clients test `status == "approved"`: a replayed code must not read as
        # approved, so an ended verification is 20404 here, as Twilio (which deletes it) says.
        error = not_found(request)
        error.message += f" (the verification is {result.status})"
        raise error
    return check_resource(result, service)


@get(
    "/Services/{service_sid:str}",
    summary="Fetch the service (Twilio Verify v2)",
    operation_id="twilioFetchService",
    responses=_errors(400, 401, 404),
)
async def fetch_service(
    request: Request[Any, Any, Any], service: NamedDependency[ServiceSettings]
) -> ServiceResource:
    return service_resource(service, _base_url(request))


twilio_router = Router(
    path="/v2",
    route_handlers=[
        create_verification,
        fetch_verification,
        update_verification,
        check_verification,
        fetch_service,
    ],
    tags=["twilio-verify"],
    security=[{SECURITY_SCHEME: []}],
    dependencies={
        "service": Provide(twilio_service, sync_to_thread=False),
        "caller": Provide(twilio_caller, sync_to_thread=False),
    },
    exception_handlers=EXCEPTION_HANDLERS,
)
