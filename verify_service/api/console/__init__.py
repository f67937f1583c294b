"""The operations console (issue 18): server-rendered pages under `[console] path`,
signed in with an operator's name and password (config/console.py), never an API key.

`build_console` makes its parts from the app's components; `console_router` its routes
(left out of the OpenAPI document: they are pages, not API)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from verify_service.api.console import pages
from verify_service.api.console.render import STATIC_DIR
from verify_service.api.console.session import Refused, on_console_error, same_origin_only
from verify_service.api.deps import Components
from verify_service.domain.errors import VerifyError
from verify_service.store import keys
from verify_service.store.attempts import AttemptStore
from verify_service.store.console import ConsoleSessionStore
from verify_service.store.limiter import RateLimiter
from verify_service.usecases.console_auth import ConsoleAuth
from verify_service.usecases.insights import Insights


@dataclass(frozen=True, slots=True)
class ConsoleParts:
    path: str
    auth: ConsoleAuth
    insights: Insights
    secure_cookie: bool


def build_console(components: Components, *, dev: bool = False) -> ConsoleParts | None:
    """The console's parts, or None when `[console]` is not configured. `dev` lets dev
    mode's one-time link sign in its operator."""
    settings = components.settings
    if settings.console is None:
        return None
    store = components.store
    limiter = RateLimiter(store)
    auth = ConsoleAuth(
        settings.console, ConsoleSessionStore(store.client), limiter, dev_operator=dev
    )
    attempt_store = AttemptStore(
        store,
        tag_key=keys.tag_key(settings.id_secret()),
        retention=settings.attempts.retention,
        max_per_service=settings.attempts.max_per_service,
    )
    return ConsoleParts(
        settings.console.path, auth, Insights(attempt_store), settings.console.secure_cookie
    )


def console_router(parts: ConsoleParts) -> Router:
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        name="console_static",
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
    return Router(
        path=parts.path,
        route_handlers=[*pages.HANDLERS, static],
        include_in_schema=False,
        guards=[same_origin_only],
        exception_handlers={VerifyError: on_console_error, Refused: on_console_error},
    )
