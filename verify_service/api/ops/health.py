"""Liveness, readiness (the store answers and its scripts are loaded) and Prometheus
metrics (optionally behind a bearer token)."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from verify_service.api.native.problems import problem
from verify_service.api.native.schemas import HealthOut
from verify_service.config import Settings
from verify_service.domain.errors import VerifyError
from verify_service.observability.metrics import Metrics
from verify_service.store import Store
from verify_service.store.diagnose import unreachable

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


@get("/health/live", tags=["operations"], summary="The process is up")
async def live() -> HealthOut:
    return HealthOut(status="ok")


@get(
    "/health/ready",
    tags=["operations"],
    summary="The store answers and its scripts are loaded (503 problem otherwise)",
    responses=None,
)
async def ready(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> Response[HealthOut]:
    try:
        await store.ready()
    except VerifyError as exc:
        url = settings.redis_url
        # The operator's question is why: name the address and the cause (never the password).
        detail = unreachable(url, exc.__cause__) if url and exc.__cause__ else exc.detail
        return problem(exc.code, detail)  # type: ignore[return-value]
    return Response(HealthOut(status="ok"))


def _authorized(request: Request[Any, Any, Any], token: str | None) -> bool:
    if token is None:  # no token configured: open, as Prometheus expects by default
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@get("/metrics", tags=["operations"], summary="Prometheus metrics", media_type=PROMETHEUS_TEXT)
async def metrics(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    metrics: NamedDependency[Metrics],
) -> Response[bytes]:
    token = settings.metrics_token
    if not _authorized(request, None if token is None else token.get_secret_value()):
        return problem(  # type: ignore[return-value]
            "unauthorized", "send the metrics token as 'Authorization: Bearer <token>'"
        )
    return Response(metrics.render(), media_type=PROMETHEUS_TEXT)
