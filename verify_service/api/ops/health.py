"""Liveness, readiness (the store answers and its scripts are loaded) and Prometheus
metrics (optionally behind a bearer token).

Readiness is public (load balancers and orchestrators probe it without credentials), so
its 503 says only that the store does not answer; why (the Redis address, password
masked, and the cause) goes to the log at WARNING, once per outage and again when the
cause changes, not once per probe."""

from __future__ import annotations

import hmac
import logging
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
_OUTAGE = "health_outage"  # app.state: the diagnosis last logged, None while ready

log = logging.getLogger("verify_service")


@get("/health/live", tags=["operations"], summary="The process is up")
async def live() -> HealthOut:
    return HealthOut(status="ok")


@get(
    "/health/ready",
    tags=["operations"],
    summary="The store answers and its scripts are loaded (503 problem otherwise)",
    description=(
        "Public, for load balancers: the 503 `store_unavailable` problem names no host or "
        "port; the service's log (WARNING `not ready: Redis at ... is not reachable: ...`) "
        "says where and why."
    ),
    responses=None,
)
async def ready(
    request: Request[Any, Any, Any],
    store: NamedDependency[Store],
    settings: NamedDependency[Settings],
) -> Response[HealthOut]:
    state = request.app.state
    try:
        await store.ready()
    except VerifyError as exc:
        url = settings.redis_url
        # The operator's question is why: the address and the cause (never the password),
        # in the log only; the public answer names no internal host.
        why = unreachable(url, exc.__cause__) if url and exc.__cause__ else exc.detail
        if state.get(_OUTAGE) != why:
            log.warning("not ready: %s", why, extra={"event": "store_unreachable"})
            state[_OUTAGE] = why
        detail = f"{exc.detail}; the service's log says why"
        return problem(exc.code, detail)  # type: ignore[return-value]
    if state.get(_OUTAGE) is not None:
        log.info("ready again: the store answers", extra={"event": "store_reachable"})
        state[_OUTAGE] = None
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
