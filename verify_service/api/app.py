"""create_app(settings) -> Litestar: wiring only."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from verify_service import __version__
from verify_service.api.auth import key_index
from verify_service.api.header_limit import header_limit
from verify_service.api.native.outbox import TestMessagesController
from verify_service.api.native.problems import EXCEPTION_HANDLERS
from verify_service.api.native.routes import VerificationsController
from verify_service.api.ops import health, reports
from verify_service.api.request import ApiRequest
from verify_service.api.swisscom import routes as swisscom
from verify_service.api.twilio.errors import on_twilio_paths
from verify_service.api.twilio.routes import SECURITY_SCHEME as TWILIO_SECURITY
from verify_service.api.twilio.routes import twilio_router
from verify_service.config import Settings, load_settings
from verify_service.domain.hashing import CodeHasher
from verify_service.observability.logs import configure_logging, secrets_of
from verify_service.observability.metrics import Metrics
from verify_service.observability.middleware import request_log_middleware
from verify_service.providers.base import Provider
from verify_service.providers.registry import build_provider
from verify_service.store import Store
from verify_service.store.outbox import OutboxStore
from verify_service.usecases.outbox import Outbox
from verify_service.usecases.verifications import Verifications

log = logging.getLogger("verify_service")

MAX_BODY_BYTES = 16 * 1024  # a start request is a few hundred bytes; refuse floods early


def build_providers(settings: Settings) -> dict[str, Provider]:
    # The tables were validated with the settings (config/models.py): nothing fails here.
    return {name: build_provider(name, config) for name, config in settings.providers.items()}


def build_verifications(
    settings: Settings, store: Store | None = None, *, workers: int = 1
) -> Verifications:
    if store is None:
        store = Store.from_url(settings.redis_url) if settings.redis_url else Store.embedded()
    return Verifications(
        settings=settings,
        store=store,
        hasher=CodeHasher(
            settings.pepper_bytes(), settings.hashing.params(), settings.previous_pepper_bytes()
        ),
        providers=build_providers(settings),
        metrics=Metrics(),
        hash_threads=hash_threads(settings, workers),
    )


def hash_threads(settings: Settings, workers: int = 1) -> int:
    """Threads for argon2 in this process: the configured number, or this process's share
    of the cores among `workers` processes."""
    if settings.hashing.threads:
        return settings.hashing.threads
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="verify-service",
        version=__version__,
        description="Self-hosted phone verification (OTP / MFA): start, check, fetch, cancel.",
        path="/docs",
        render_plugins=[YamlRenderPlugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="An API key of a service."
                ),
                TWILIO_SECURITY: SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="Twilio-compatible routes: AccountSid as user, an API key "
                    "of the service as password (AuthToken).",
                ),
            }
        ),
    )


def create_app(settings: Settings, *, store: Store | None = None, workers: int = 1) -> Litestar:
    """The app of `settings`; `workers` = the processes serving it (their share of the
    cores sizes the hashing threads)."""
    verifications = build_verifications(settings, store, workers=workers)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            await verifications.store.load_scripts()
        except Exception:  # readiness reports it; the store may come up after us
            log.warning("the store is not reachable at start-up; /health/ready says when it is")
        # Everything built so far (phonenumbers metadata, routes, schemas) lives as long as
        # the process: out of the collector's generations, full GC pauses stay short.
        gc.freeze()
        try:
            yield
        finally:
            await verifications.aclose()

    handlers: list[Any] = [
        VerificationsController,
        twilio_router,
        swisscom.router,
        reports.delivery_reports,
        health.live,
        health.ready,
        health.metrics,
    ]
    state: dict[str, Any] = {
        "verifications": verifications,
        "api_keys": key_index(settings),
        "metrics": verifications.metrics,
    }
    if settings.test_mode:  # the test outbox exists only here (404 otherwise)
        outbox = Outbox(OutboxStore(verifications.store.client), settings.default_region)
        outbox.attach(verifications.providers)
        handlers.append(TestMessagesController)
        state["outbox"] = outbox

    app = Litestar(
        route_handlers=handlers,
        exception_handlers={
            **EXCEPTION_HANDLERS,
            HTTPException: on_twilio_paths(EXCEPTION_HANDLERS[HTTPException]),
        },
        lifespan=[lifespan],
        state=State(state),
        openapi_config=openapi_config(),
        request_max_body_size=MAX_BODY_BYTES,
        # Litestar's default logging config replaces the root logger's handlers, and with
        # them our JSON handler and its redaction filter: logging is set up by logs.py.
        logging_config=None,
        request_class=ApiRequest,
        middleware=[header_limit],
    )
    # Outside Litestar's own exception handling and routing, like its OpenTelemetry
    # middleware: the request id and the request log line cover 404s and 413s too.
    app.asgi_handler = request_log_middleware(app.asgi_handler)
    return app


def create_app_from_env() -> Litestar:
    """Factory for multi-worker serving: each worker process reads the same config file and
    what `serve` put into its environment (VERIFY_CONFIG, VERIFY_WORKERS, VERIFY_LOG_LEVEL)."""
    settings = load_settings(os.environ["VERIFY_CONFIG"], os.environ)
    level = os.environ.get("VERIFY_LOG_LEVEL", "INFO")
    configure_logging(level=level, secrets=secrets_of(settings))
    return create_app(settings, workers=max(1, int(os.environ.get("VERIFY_WORKERS") or "1")))
