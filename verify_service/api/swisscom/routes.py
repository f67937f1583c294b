"""Swisscom-compatible API (README, Swisscom): Swisscom Token Validation's paths, headers, bodies
and errors, so that an application written for Swisscom only changes its base URL.

`client_id` is an API key of one of our services, and that service's policy applies
(token lengths, allowed countries, limits, providers). Translation only: the use cases
are `Verifications.start` and `.check`, as for the native API."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter
from msgspec import Meta

from verify_service.api.allow import NOT_SAFE
from verify_service.api.deps import Caller, caller, service_for_key
from verify_service.api.swisscom.errors import (
    EXCEPTION_HANDLERS,
    SwisscomApiError,
    SwisscomErrorBody,
    echo_headers,
)
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.domain.templates import MAX_TEMPLATE_LENGTH
from verify_service.domain.tokens import MAX_EXPIRES_IN, MIN_EXPIRES_IN, TokenType

BASE = "/messaging/tokenvalidation"
CHECK = BASE + "/{msisdn:str}/{token:str}"

SwisscomTokenType = Literal[
    "SHORT_NUMERIC", "SHORT_ALPHANUMERIC", "SHORT_SMALL_AND_CAPITAL", "LONG_CRYPTIC"
]
_TOKEN_TYPES: dict[str, TokenType] = {
    "SHORT_NUMERIC": TokenType.NUMERIC,
    "SHORT_ALPHANUMERIC": TokenType.ALPHANUMERIC,
    "SHORT_SMALL_AND_CAPITAL": TokenType.ALPHANUMERIC_MIXED,
    # LONG_CRYPTIC: upper and lower case letters and digits at the longest length the
    # service allows (12 unless narrowed: ~71 bits), tokenLength ignored. Within our 4-12
    # limit on purpose: it is far beyond guessing under an attempt limit, and a longer
    # token would need its own hashing and schema limits for no gain in safety.
    "LONG_CRYPTIC": TokenType.ALPHANUMERIC_MIXED,
}

# Swisscom's number rule: starts with 0, 00 or +, 7 to 15 digits; a single leading 0 is +41.
_MSISDN = re.compile(r"^(\+|00|0)?([0-9]+)$")  # ASCII digits only: \d takes any script


class TokenValidationRequest(msgspec.Struct, kw_only=True):
    """Unknown fields are ignored, as a drop-in for clients that send more than this."""

    to: Annotated[str, Meta(min_length=1, max_length=32, description="0…, 00… or +…")]
    text: Annotated[
        str,
        Meta(min_length=1, max_length=MAX_TEMPLATE_LENGTH, description="Must contain %TOKEN%."),
    ]
    tokenType: SwisscomTokenType = "SHORT_NUMERIC"  # Swisscom's field names, camelCase
    expireTime: (
        Annotated[
            int, Meta(ge=0, le=MAX_EXPIRES_IN, description="Seconds; 0 or absent: the default.")
        ]
        | None
    ) = None
    tokenLength: Annotated[int, Meta(ge=1, le=12)] | None = None


class ValidationOut(msgspec.Struct, kw_only=True):
    validation: Literal["SUCCESS", "FAILED"]


def msisdn_to_e164(raw: str) -> str:
    match = _MSISDN.match(raw.strip())
    digits = sum(c in "0123456789" for c in raw)
    if not match or match.group(1) is None or not 7 <= digits <= 15:
        raise VerifyError(
            "invalid_phone_number",
            "a number starts with 0, 00 or + and has 7 to 15 digits",
        )
    prefix, rest = match.groups()
    return ("+41" + rest) if prefix == "0" else ("+" + rest)


def _accepts_json(accept: str | None) -> bool:
    if not accept:  # no preference: JSON is the default
        return True
    ranges = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(ranges & {"application/json", "application/*", "*/*"})


async def swisscom_headers(request: Request[Any, Any, Any]) -> None:
    """Swisscom's header rules, before anything else is read: 401, 406, then 400."""
    client_id = request.headers.get("client_id", "").strip()
    if not client_id:
        raise SwisscomApiError(401, "send an API key of a service in the client_id header")
    request.state.service = service_for_key(request, client_id)
    if not _accepts_json(request.headers.get("accept")):
        raise SwisscomApiError(406, "only application/json is available")
    if request.headers.get("scs-version", "").strip() != "2":
        raise SwisscomApiError(400, "the header SCS-Version must be 2")
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
        if content_type.lower() != "application/json":
            raise SwisscomApiError(400, "the header Content-Type must be application/json")


def _caller(request: Request[Any, Any, Any]) -> Caller:
    return caller(request, request.state.service)  # the service: set by swisscom_headers


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            SwisscomErrorBody,
            description="Swisscom error body",
            media_type="application/json",
            generate_examples=False,
        )
        for status in statuses
    }


# `client_id` is the security scheme SECURITY_SCHEME (app.py), not a parameter.
SECURITY_SCHEME = "swisscom_client_id"
_Version = Annotated[Literal["2"], HeaderParameter(name="SCS-Version", description="Must be 2.")]
_RequestId = Annotated[
    str | None,
    HeaderParameter(name="SCS-Request-ID", required=False, description="Echoed in the answer."),
]
# `value` only gives the header its schema (a string) in the OpenAPI document.
_ECHO = [
    ResponseHeader(name="SCS-Request-ID", value="", description="As sent.", documentation_only=True)
]


@post(
    BASE,
    status_code=201,
    summary="Send a token by SMS (Swisscom Token Validation)",
    description="201 without a body. The token is generated, sent and checked under the "
    "policy of the service that owns `client_id`.",
    operation_id="swisscomStartTokenValidation",
    before_request=swisscom_headers,
    response_headers=_ECHO,
    responses={
        201: ResponseSpec(None, description="Created: the token is on its way (no body)"),
        **_errors(400, 401, 403, 405, 406, 429, 500, 503),
    },
)
async def start_token_validation(
    request: Request[Any, Any, Any],
    data: JSONBody[TokenValidationRequest],
    caller: NamedDependency[Caller],
    scs_version: _Version,
    scs_request_id: _RequestId = None,
) -> Response[bytes]:
    service = caller.service
    if data.expireTime and data.expireTime < MIN_EXPIRES_IN:
        raise VerifyError(
            "invalid_request",
            f"expireTime must be {MIN_EXPIRES_IN}-{MAX_EXPIRES_IN} (0: the default)",
        )
    token_type = _TOKEN_TYPES[data.tokenType]
    length = service.max_token_length if data.tokenType == "LONG_CRYPTIC" else data.tokenLength
    await caller.verifications.start(
        service,
        StartParams(
            to=msisdn_to_e164(data.to),
            token_type=token_type,
            token_length=length,
            expires_in=data.expireTime or None,
            template=data.text,
            client_ip=caller.client_ip,
        ),
    )
    # Swisscom's 201 has no body at all (Response(None) would send `null`).
    return Response(b"", status_code=201, headers=echo_headers(request))


@get(
    CHECK,
    summary="Check a token (Swisscom Token Validation)",
    description="SUCCESS approves the verification; a wrong, expired, used or unknown token "
    "is FAILED. Every check counts against the service's attempt limit.",
    operation_id="swisscomCheckToken",
    opt=NOT_SAFE,  # the check counts an attempt and approves: no HEAD (api/head.py)
    before_request=swisscom_headers,
    response_headers=_ECHO,
    responses=_errors(400, 401, 403, 404, 405, 406, 500, 503),
)
async def check_token(
    request: Request[Any, Any, Any],
    msisdn: Annotated[str, PathParameter(min_length=1, max_length=32)],
    token: Annotated[str, PathParameter(min_length=1, max_length=64)],
    caller: NamedDependency[Caller],
    scs_version: _Version,
    scs_request_id: _RequestId = None,
) -> Response[ValidationOut]:
    try:
        # FAILED whether or not the number has a pending verification: the time taken
        # must not tell either (one argon2 run for every answer).
        result = await caller.verifications.check(
            caller.service,
            code=token,
            to=msisdn_to_e164(msisdn),
            client_ip=caller.client_ip,
            uniform_time=True,
        )
        valid = result.valid
    except VerifyError as exc:
        # Swisscom's answer for an unknown number is unconfirmed; FAILED is what every
        # client of the documented API handles.
        if exc.code != "verification_not_found":
            raise
        valid = False
    body = ValidationOut(validation="SUCCESS" if valid else "FAILED")
    return Response(body, headers=echo_headers(request))


router = Router(
    path="/",
    route_handlers=[
        start_token_validation,
        check_token,
    ],
    tags=["swisscom"],
    security=[{SECURITY_SCHEME: []}],
    dependencies={"caller": Provide(_caller, sync_to_thread=False)},
    exception_handlers=EXCEPTION_HANDLERS,
)
