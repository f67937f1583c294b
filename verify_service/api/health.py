"""Liveness, readiness (the store answers) and Prometheus metrics."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from verify_service.api.problems import problem
from verify_service.api.schemas import HealthOut
from verify_service.core.errors import VerifyError


@get("/health/live", tags=["operations"], summary="The process is up")
async def live() -> HealthOut:
    return HealthOut(status="ok")


@get("/health/ready", tags=["operations"], summary="The store answers", responses=None)
async def ready(state: State) -> Response[HealthOut]:
    try:
        await state.verifications.store.ping()
    except VerifyError as exc:
        return problem(exc.code, exc.detail)  # type: ignore[return-value]
    return Response(HealthOut(status="ok"))


@get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    media_type="text/plain; version=0.0.4",
)
async def metrics(state: State) -> Response[bytes]:
    return Response(state.verifications.metrics.render(), media_type="text/plain; version=0.0.4")
