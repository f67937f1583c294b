"""create_app(settings) -> Litestar: the composition root. Everything with a lifetime
(store, providers, router, status events, abuse policy, metrics) is built here, once per
app, and handed to the use cases and, as typed dependencies (`api.deps`), to handlers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components as OpenAPIComponents
from litestar.openapi.spec import License, SecurityScheme

from verify_service import __version__
from verify_service.abuse.policy import AbusePolicy
from verify_service.api.allow import options_allow
from verify_service.api.console import build_console, console_router
from verify_service.api.deps import Components, app_dependencies, key_index, operator_key_index
from verify_service.api.dialects import http_error
from verify_service.api.head import head_as_get, refuse_unsafe_head
from verify_service.api.header_limit import header_limit
from verify_service.api.native.attempts import AttemptsController
from verify_service.api.native.fraud import FraudController
from verify_service.api.native.outbox import TestMessagesController
from verify_service.api.native.problems import EXCEPTION_HANDLERS
from verify_service.api.native.routes import VerificationsController
from verify_service.api.ops import docs, health, reports
from verify_service.api.request import ApiRequest
from verify_service.api.swisscom import routes as swisscom
from verify_service.api.swisscom.routes import SECURITY_SCHEME as SWISSCOM_SECURITY
from verify_service.api.twilio.attempts import twilio_attempts_router
from verify_service.api.twilio.routes import SECURITY_SCHEME as TWILIO_SECURITY
from verify_service.api.twilio.routes import twilio_router
from verify_service.api.twilio.services import services_router
from verify_service.config import Settings, load_settings
from verify_service.config.secrets import secrets_of
from verify_service.domain.hashing import CodeHasher
from verify_service.observability.logs import configure_logging
from verify_service.observability.metrics import Metrics, MetricsObserver
from verify_service.observability.middleware import request_log_middleware
from verify_service.providers.base import Provider
from verify_service.providers.metered import MeteredProvider
from verify_service.providers.registry import build_provider
from verify_service.providers.router import Router
from verify_service.store import Store, keys
from verify_service.store.attempts import AttemptStore
from verify_service.store.diagnose import unreachable
from verify_service.store.outbox import OutboxStore
from verify_service.store.workflows import WorkflowQueue
from verify_service.usecases.attempts import Attempts
from verify_service.usecases.fraud import FraudControl
from verify_service.usecases.outbox import Outbox
from verify_service.usecases.reports import DeliveryReports
from verify_service.usecases.verifications import Verifications
from verify_service.usecases.workflows import Workflows, WorkflowSchedule
from verify_service.webhooks.callbacks import StatusEvents

log = logging.getLogger("verify_service")

# Seconds shutdown waits for the workflow poller to stop.
POLLER_SHUTDOWN_S = 5.0

MAX_BODY_BYTES = 16 * 1024  # a start request is a few hundred bytes; refuse floods early

# The collector's youngest generation is collected after this many more container objects
# were made than freed (Python's default: 700). A worker with requests in flight holds
# more than 700 of them at a time (coroutines, dicts, the records of each request), so the
# default collected the young objects of requests still running every 5-15 flows (~1.3 %
# of a loaded worker's CPU, docs/performance.md "Wave 9"); nearly all of them are freed by
# their reference counts when the request ends.
# Cyclic garbage still goes once this many objects have built up.
GC_YOUNG_THRESHOLD = 10_000


def build_providers(settings: Settings) -> dict[str, Provider]:
    # The tables were validated with the settings (config/models.py): nothing fails here.
    return {name: build_provider(name, config) for name, config in settings.providers.items()}


def build_components(
    settings: Settings,
    store: Store | None = None,
    *,
    workers: int = 1,
    providers: Mapping[str, Provider] | None = None,
    metrics: Metrics | None = None,
    events: StatusEvents | None = None,
    outbox: bool = False,
) -> Components:
    """Build everything one app uses. `store` defaults to `redis_url` (or the embedded
    fakeredis without one); `workers` = the processes serving the app (their share of the
    cores sizes the hashing threads); `providers`, `metrics` and `events` default to what
    the config says and may be given instead (tests); `outbox` adds the test outbox
    (test_mode apps)."""
    if store is None:
        store = Store.from_url(settings.redis_url) if settings.redis_url else Store.embedded()
    providers = build_providers(settings) if providers is None else providers
    metrics = metrics or Metrics()
    observer = MetricsObserver(metrics)
    router = Router(on_breaker=observer.breaker_state)
    events = events or StatusEvents(metrics)
    attempts = Attempts(
        settings,
        AttemptStore(
            store,
            tag_key=keys.tag_key(settings.id_secret()),
            retention=settings.attempts.retention,
            max_per_service=settings.attempts.max_per_service,
        ),
        observer,
    )
    abuse = AbusePolicy(settings, store, observer)
    # Fallback workflows only where a service has more than one channel.
    queue = WorkflowQueue(store) if Workflows.needed(settings) else None
    verifications = Verifications(
        settings,
        store,
        CodeHasher(
            settings.pepper_bytes(), settings.hashing.params(), settings.previous_pepper_bytes()
        ),
        providers=providers,
        # What the router calls: the same providers, each send timed for the observer.
        senders={
            name: MeteredProvider(provider, observer.send_observed)
            for name, provider in providers.items()
        },
        router=router,
        events=events,
        abuse=abuse,
        observer=observer,
        attempts=attempts,
        hash_threads=hash_threads(settings, workers),
        workflows=WorkflowSchedule(queue) if queue is not None else None,
    )
    workflows = (
        Workflows(settings, store, queue, verifications, abuse) if queue is not None else None
    )
    test_outbox = None
    if outbox:
        test_outbox = Outbox(OutboxStore(store.client), settings.default_region)
        test_outbox.attach(providers)
    return Components(
        settings=settings,
        store=store,
        metrics=metrics,
        providers=providers,
        router=router,
        events=events,
        verifications=verifications,
        reports=DeliveryReports(
            store,
            observer,
            undelivered=workflows.undelivered if workflows else None,
            attempts=attempts,
        ),
        attempts=attempts,
        api_keys=key_index(settings),
        outbox=test_outbox,
        workflows=workflows,
        fraud=FraudControl(store, observer),
        operator_keys=operator_key_index(settings),
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
        description="Self-hosted phone verification (OTP / MFA): start, check, fetch, cancel. "
        "Every GET also answers HEAD (same status and headers, no content), except the "
        "Swisscom token check, whose GET counts an attempt: HEAD is 405 there.",
        path=docs.DOCS_PATH,
        openapi_router=docs.openapi_router(),  # our error pages under /docs
        license=License(name="Apache-2.0", identifier="Apache-2.0"),
        render_plugins=docs.render_plugins(),  # Swagger UI at /docs, assets served here
        # Routes without a scheme of their own (health, metrics, delivery reports, whose
        # secret is in the path) take no credentials: said explicitly, as linters expect.
        security=[{}],
        components=OpenAPIComponents(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="An API key of a service."
                ),
                "operator": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An operator's key (`[[operators]]`), for /v1/fraud.",
                ),
                TWILIO_SECURITY: SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="Twilio-compatible routes: AccountSid as user, an API key "
                    "of the service as password (AuthToken).",
                ),
                SWISSCOM_SECURITY: SecurityScheme(
                    type="apiKey",
                    name="client_id",
                    security_scheme_in="header",
                    description="Swisscom-compatible routes: an API key of the service.",
                ),
            }
        ),
    )


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    workers: int = 1,
    console_login: str | None = None,
) -> Litestar:
    """The app of `settings`; `workers` = the processes serving it (their share of the
    cores sizes the hashing threads); `console_login` = dev mode's one-time console link."""
    # The test outbox exists only in test_mode (its routes answer 404 otherwise).
    components = build_components(settings, store, workers=workers, outbox=settings.test_mode)
    console = build_console(components, dev=console_login is not None)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            await components.store.load_scripts()
        except Exception as exc:  # readiness reports it; the store may come up after us
            where = unreachable(settings.redis_url, exc) if settings.redis_url else str(exc)
            log.warning("%s; starting anyway, /health/ready says when it is", where)
        if console is not None and console_login is not None:
            await console.auth.register_one_time(console_login)
        # Everything built so far (phonenumbers metadata, routes, schemas) lives as long as
        # the process: out of the collector's generations, full GC pauses stay short.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        # Every worker polls the workflow due-queue; the queue shares the steps out.
        poller = None
        stop_polling = anyio.Event()
        if components.workflows is not None:
            poll = components.settings.workflow_poll_interval
            poller = asyncio.create_task(components.workflows.run(poll, stop_polling))
        try:
            yield
        finally:
            if poller is not None:
                stop_polling.set()  # heard even where the cancel below is lost (Workflows.run)
                poller.cancel()
                # A step in flight gets a moment to unwind; shutdown never waits on it longer
                # (its queue entry is leased: another worker takes it when the lease ends).
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(poller, timeout=POLLER_SHUTDOWN_S)
            await components.aclose()

    handlers: list[Any] = [
        VerificationsController,
        AttemptsController,
        twilio_router,
        twilio_attempts_router,
        services_router,
        swisscom.router,
        reports.delivery_reports,
        health.live,
        health.ready,
        health.metrics,
        docs.openapi_json,
        docs.openapi_yaml,
        docs.assets(),
        FraudController,
    ]
    if components.outbox is not None:
        handlers.append(TestMessagesController)
    if console is not None:
        handlers.append(console_router(console))
    state = {
        "components": components,  # what api.deps hands to handlers
        "console": console,  # the operations console's parts (api/console), or None
        "metrics": components.metrics,  # read by the request middleware
    }

    app = Litestar(
        route_handlers=handlers,
        exception_handlers={
            **EXCEPTION_HANDLERS,
            HTTPException: http_error,
        },
        lifespan=[lifespan],
        state=State(state),
        dependencies=app_dependencies(),
        openapi_config=openapi_config(),
        request_max_body_size=MAX_BODY_BYTES,
        # Litestar's default logging config replaces the root logger's handlers, and with
        # them our JSON handler and its redaction filter: logging is set up by logs.py.
        logging_config=None,
        request_class=ApiRequest,
        middleware=[header_limit, options_allow, refuse_unsafe_head],
    )
    # Outside Litestar's own exception handling and routing, like its OpenTelemetry
    # middleware: the request id and the request log line cover 404s and 413s too.
    # HEAD runs as GET inside it (api/head.py): the log line still says HEAD.
    app.asgi_handler = request_log_middleware(head_as_get(app.asgi_handler))
    return app


def create_app_from_env() -> Litestar:
    """Factory for multi-worker serving: each worker process reads the same config file and
    what `serve` put into its environment (VERIFY_CONFIG, VERIFY_WORKERS, VERIFY_LOG_LEVEL)."""
    settings = load_settings(os.environ["VERIFY_CONFIG"], os.environ)
    level = os.environ.get("VERIFY_LOG_LEVEL", "INFO")
    configure_logging(level=level, secrets=secrets_of(settings))
    return create_app(settings, workers=max(1, int(os.environ.get("VERIFY_WORKERS") or "1")))
