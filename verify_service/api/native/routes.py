"""Native API v1 (README, API): start, check, fetch, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link, Operation, Reference
from litestar.params import HeaderParameter, JSONBody, PathParameter

from verify_service.api.deps import Caller, bearer_service, caller
from verify_service.api.native.schemas import (
    CheckOut,
    CheckRequest,
    Problem,
    SendAttemptOut,
    StartRequest,
    VerificationOut,
)
from verify_service.api.native.strict import strict_json
from verify_service.domain.model import CheckResult, StartParams, Verification, WorkflowStep
from verify_service.domain.timestamps import rfc3339


def _problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            Problem,
            description="Problem document",
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in statuses
    }


_BY_ID = {"verification_id": "$response.body#/id"}


@dataclass
class StartOperation(Operation):
    """The start operation with OpenAPI links to what a caller does next with the new id:
    clients and schema-driven tools (the fuzzer's stateful run) follow them."""

    def __post_init__(self) -> None:
        created = (self.responses or {}).get("201")
        if created is not None and not isinstance(created, Reference):
            created.links = {
                "FetchById": Link(operation_id="fetchVerification", parameters=_BY_ID),
                "CancelById": Link(operation_id="cancelVerification", parameters=_BY_ID),
                "CheckById": Link(operation_id="checkVerification", request_body=_BY_ID),
            }


def verification_out(v: Verification) -> VerificationOut:
    return VerificationOut(
        id=v.id,
        service=v.service,
        to=v.to,
        channel=v.channel,
        status=v.status.name_literal,
        token_type=v.token_type,
        token_length=v.token_length,
        created_at=rfc3339(v.created_at),
        expires_at=rfc3339(v.expires_at),
        check_attempts=v.check_attempts,
        max_check_attempts=v.max_check_attempts,
        attempts_remaining=v.attempts_remaining,
        send_attempts=[
            SendAttemptOut(
                at=a.at_text,
                provider=a.provider,
                message_id=a.message_id,
                status=a.status,
                error=a.error,
                channel=a.channel,  # type: ignore[arg-type]
            )
            for a in v.send_attempts
        ],
        metadata=v.metadata,
    )


def check_out(result: CheckResult) -> CheckOut:
    return CheckOut(
        id=result.id,
        status=result.status.name_literal,
        valid=result.valid,
        attempts_remaining=result.attempts_remaining,
    )


async def bearer_caller(request: Request[Any, Any, Any]) -> Caller:
    # a wrong key is 401 first, whatever the body holds
    found = caller(request, bearer_service(request))
    await strict_json(request)  # then the body in its documented types (native/strict.py)
    return found


VerificationId = Annotated[
    str, PathParameter(min_length=1, max_length=64, description="Verification id (ver_…)")
]


class VerificationsController(Controller):
    path = "/v1/verifications"
    tags = ["verifications"]
    security = [{"bearer": []}]
    dependencies = {"caller": Provide(bearer_caller)}

    @post(
        "/",
        status_code=201,
        summary="Start a verification (or resend the code of a pending one)",
        operation_id="startVerification",
        operation_class=StartOperation,
        responses=_problems(400, 401, 403, 409, 413, 415, 422, 429, 502, 503),
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[StartRequest],
        caller: NamedDependency[Caller],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255, required=False),
        ] = None,
        accept_language: Annotated[
            str | None,
            HeaderParameter(
                name="Accept-Language",
                required=False,
                description="Picks the service's template when the body has no `locale`.",
            ),
        ] = None,
    ) -> Response[VerificationOut]:
        params = StartParams(
            to=data.to,
            channel=data.channel,
            workflow=(
                tuple(WorkflowStep(s.channel, s.timeout) for s in data.workflow)
                if data.workflow
                else None
            ),
            token_type=data.token_type,
            token_length=data.token_length,
            expires_in=data.expires_in,
            template=data.template,
            locale=data.locale,
            metadata=data.metadata,
            accept_language=accept_language,
            client_ip=caller.client_ip,
        )
        if idempotency_key is not None:
            verification = await caller.verifications.start_idempotent(
                caller.service, idempotency_key, await request.body(), params
            )
        else:
            verification = await caller.verifications.start(caller.service, params)
        return Response(
            verification_out(verification),
            status_code=201,
            headers={"Location": f"{self.path}/{verification.id}"},
        )

    @post(
        "/check",
        status_code=200,
        summary="Check a code, by number or by verification id",
        operation_id="checkVerification",
        responses=_problems(400, 401, 404, 413, 415, 429, 503),
    )
    async def check(
        self,
        data: JSONBody[CheckRequest],
        caller: NamedDependency[Caller],
    ) -> CheckOut:
        result = await caller.verifications.check(
            caller.service,
            code=data.code,
            to=data.to,
            verification_id=data.verification_id,
            client_ip=caller.client_ip,
        )
        return check_out(result)

    @get(
        "/{verification_id:str}",
        summary="Fetch a verification",
        operation_id="fetchVerification",
        responses=_problems(400, 401, 404, 503),
    )
    async def fetch(
        self,
        verification_id: VerificationId,
        caller: NamedDependency[Caller],
    ) -> VerificationOut:
        return verification_out(await caller.verifications.fetch(caller.service, verification_id))

    @post(
        "/{verification_id:str}/cancel",
        status_code=200,
        summary="Cancel a pending verification",
        operation_id="cancelVerification",
        responses=_problems(400, 401, 404, 409, 503),
    )
    async def cancel(
        self,
        verification_id: VerificationId,
        caller: NamedDependency[Caller],
    ) -> VerificationOut:
        return verification_out(await caller.verifications.cancel(caller.service, verification_id))
