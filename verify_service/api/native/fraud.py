"""Operator API of the pumping guard (`/v1/fraud/*`, docs/fraud.md): list blocks, lift
one, keep the allow-list. Authenticated with an operator's key (`[[operators]]` in the
config), never a service's: an app backend holding a service key cannot lift blocks.
Each operator manages the services its entry names; `service` picks one of them and may
be left out when there is only one."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta

from verify_service.api.deps import components_of
from verify_service.api.native.routes import _problems
from verify_service.api.native.strict import strict_json
from verify_service.config import ServiceSettings
from verify_service.config.abuse import Operator
from verify_service.domain.errors import VerifyError
from verify_service.observability import logs
from verify_service.usecases.fraud import Allowed, Block, FraudControl

RangeText = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=16,
        description="E.164 prefix of a number range, e.g. +491521 (the + may be left out).",
    ),
]
ServiceName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class BlockOut(msgspec.Struct, kw_only=True):
    range: str
    level: str
    country: str
    blocked_at: datetime
    until: datetime
    retry_after: int
    starts: float
    approvals: float
    conversion: float
    baseline_conversion: float
    strikes: int
    refused: int


class AllowedOut(msgspec.Struct, kw_only=True):
    range: str
    country: str
    actor: str
    at: datetime | None


class FraudStateOut(msgspec.Struct, kw_only=True):
    service: str
    blocks: list[BlockOut]
    allowed: list[AllowedOut]


class RangeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    range: RangeText
    service: ServiceName | None = None


def block_out(block: Block) -> BlockOut:
    return BlockOut(
        range=block.range,
        level=block.level,
        country=block.country,
        blocked_at=block.blocked_at,
        until=block.until,
        retry_after=block.retry_after,
        starts=block.starts,
        approvals=block.approvals,
        conversion=round(block.conversion, 4),
        baseline_conversion=round(block.baseline_conversion, 4),
        strikes=block.strikes,
        refused=block.refused,
    )


def allowed_out(entry: Allowed) -> AllowedOut:
    return AllowedOut(range=entry.range, country=entry.country, actor=entry.actor, at=entry.at)


def bearer_operator(request: Request[Any, Any, Any]) -> Operator:
    """The operator of `Authorization: Bearer <key>`; unauthorized for none, a wrong key,
    or a service's key (keys are compared as SHA-256 digests, like services')."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise VerifyError("unauthorized", "send an operator key as 'Authorization: Bearer <key>'")
    index = components_of(request.app.state).operator_keys or {}
    operator = index.get(hashlib.sha256(key.encode()).hexdigest())
    if operator is None:
        raise VerifyError("unauthorized", "the key is not an operator key")
    logs.bind(operator=operator.name)
    return operator


async def _operator(request: Request[Any, Any, Any]) -> Operator:
    operator = bearer_operator(request)  # 401 first, whatever the body holds
    await strict_json(request)  # then the body in its documented types (native/strict.py)
    return operator


def _fraud(request: Request[Any, Any, Any]) -> FraudControl:
    fraud = components_of(request.app.state).fraud
    assert fraud is not None, "build_components always builds it"
    return fraud


def managed_service(
    request: Request[Any, Any, Any], operator: Operator, name: str | None
) -> ServiceSettings:
    """The service `name` if `operator` manages it; without a name, the operator's only
    service. not_found for a service it does not manage (or that does not exist: an
    operator learns nothing about other services), invalid_request when it must choose."""
    services = components_of(request.app.state).settings.services
    mine = [s for s in services if operator.manages(s.name)]
    if name is None:
        if len(mine) == 1:
            return mine[0]
        raise VerifyError(
            "invalid_request", "this operator manages several services: name one in `service`"
        )
    for service in mine:
        if service.name == name:
            logs.bind(service=name)
            return service
    raise VerifyError("not_found", f"no service {name!r} for this operator")


ServiceQuery = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The service; may be left out when the operator manages only one.",
        required=False,
    ),
]


class FraudController(Controller):
    path = "/v1/fraud"
    tags = ["fraud"]
    security = [{"operator": []}]
    dependencies = {
        "operator": Provide(_operator),
        "fraud": Provide(_fraud, sync_to_thread=False),
    }

    @get(
        "/blocks",
        summary="Number ranges the pumping guard blocks now, with the counts that caused "
        "each, and the allow-list",
        operation_id="listFraudBlocks",
        responses=_problems(400, 401, 404, 503),
    )
    async def blocks(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Operator],
        fraud: NamedDependency[FraudControl],
        service: ServiceQuery = None,
    ) -> FraudStateOut:
        target = managed_service(request, operator, service)
        overview = await fraud.list_blocks(target)
        return FraudStateOut(
            service=target.name,
            blocks=[block_out(b) for b in overview.blocks],
            allowed=[allowed_out(a) for a in overview.allowed],
        )

    @post(
        "/blocks/lift",
        status_code=200,
        summary="Lift the block of a range (its recent counts start again from zero)",
        operation_id="liftFraudBlock",
        responses=_problems(400, 401, 404, 413, 415, 503),
    )
    async def lift(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RangeRequest],
        operator: NamedDependency[Operator],
        fraud: NamedDependency[FraudControl],
    ) -> BlockOut:
        target = managed_service(request, operator, data.service)
        return block_out(await fraud.lift(target, data.range, operator.name))

    @post(
        "/allowed",
        status_code=201,
        summary="Allow-list a range: the guard never blocks it (its traffic still counts)",
        operation_id="allowFraudRange",
        responses=_problems(400, 401, 404, 413, 415, 503),
    )
    async def allow(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RangeRequest],
        operator: NamedDependency[Operator],
        fraud: NamedDependency[FraudControl],
    ) -> AllowedOut:
        target = managed_service(request, operator, data.service)
        return allowed_out(await fraud.allow(target, data.range, operator.name))

    @delete(
        "/allowed/{range:str}",
        status_code=204,
        summary="Take a range off the allow-list",
        operation_id="unallowFraudRange",
        responses=_problems(400, 401, 404, 503),
    )
    async def unallow(
        self,
        request: Request[Any, Any, Any],
        range: Annotated[str, PathParameter(min_length=1, max_length=16)],
        operator: NamedDependency[Operator],
        fraud: NamedDependency[FraudControl],
        service: ServiceQuery = None,
    ) -> None:
        target = managed_service(request, operator, service)
        await fraud.unallow(target, range, operator.name)
