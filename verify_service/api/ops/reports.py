"""Delivery-report webhooks: `POST|PUT /v1/providers/{provider}/reports/{secret}`.

Providers cannot send our API keys, so the URL itself carries a per-provider secret
(`report_secret`). An unknown provider, a provider without a secret and a wrong secret all
get the same bare 404, so the route tells a prober nothing, not even which providers exist."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import HttpMethod, Request, Response, route
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from verify_service.api.native.problems import PROBLEM_JSON, problem
from verify_service.api.native.schemas import Problem
from verify_service.providers.base import Provider
from verify_service.usecases.reports import DeliveryReports

log = logging.getLogger("verify_service.api")

MAX_REPORT_BYTES = 256 * 1024  # some providers batch their reports
_NO_SECRET = hashlib.sha256(b"no secret configured").digest()


def _digest(value: str) -> bytes:
    # Equal-length digests: compare_digest then takes the same time whatever was sent.
    return hashlib.sha256(value.encode()).digest()


def _authentic(provider: Provider | None, secret: str) -> bool:
    expected = provider.options.report_secret if provider is not None else None
    wanted = _digest(expected.get_secret_value()) if expected is not None else _NO_SECRET
    return hmac.compare_digest(_digest(secret), wanted) and expected is not None


@route(
    "/v1/providers/{provider:str}/reports/{secret:str}",
    http_method=[HttpMethod.POST, HttpMethod.PUT],
    status_code=200,
    tags=["delivery reports"],
    summary="Delivery reports (DLR) from an SMS provider",
    description=(
        "The callback URL to give a provider: its `report_secret` is the last path segment. "
        "Reports of unknown messages are accepted and ignored."
    ),
    operation_id=lambda _handler, method, _path: f"deliveryReports{method.title()}",
    request_max_body_size=MAX_REPORT_BYTES,
    responses={
        status: ResponseSpec(
            Problem,
            description="Problem document",
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in (400, 404, 503)
    },
)
async def delivery_reports(
    request: Request[Any, Any, Any],
    provider: Annotated[str, PathParameter(max_length=64)],
    secret: Annotated[str, PathParameter(max_length=256)],
    providers: NamedDependency[Mapping[str, Provider]],
    reports: NamedDependency[DeliveryReports],
) -> Response[dict[str, Any]]:
    instance = providers.get(provider)
    if not _authentic(instance, secret):
        return problem("not_found", "Not Found")
    assert instance is not None
    body = await request.body()
    try:
        parsed = instance.parse_reports(body, request.headers)
    except ValueError:
        return problem("invalid_request", f"not a delivery report of a {instance.kind} provider")
    changed = await reports.apply(provider, parsed)
    log.info(
        "delivery reports",
        extra={"provider": provider, "reports": len(parsed), "changed": changed},
    )
    return Response(instance.report_answer(), status_code=200)
