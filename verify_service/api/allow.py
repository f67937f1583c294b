"""A true `Allow` header on every OPTIONS answer and every 405 (RFC 9110 §10.2.1, §15.5.6).

Litestar 2 answers OPTIONS itself, but where two handlers share a path (Twilio's GET and
POST on one verification) its answer lists only the methods of the first one registered
(litestar-org/litestar#4169, fixed only in Litestar 3). The route itself knows all of its
methods: this middleware, which runs once the route is found, puts them in the answer.

HEAD is served wherever GET is (api/head.py), except on a GET marked NOT_SAFE: `Allow`
says so."""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

NOT_SAFE_KEY = "get_not_safe"
NOT_SAFE: dict[str, Any] = {NOT_SAFE_KEY: True}  # `opt` of a GET handler that changes state


def safe_get(handler: Any) -> bool:
    """Whether GET on `handler` also answers HEAD (it is not marked NOT_SAFE)."""
    return not (getattr(handler, "opt", None) or {}).get(NOT_SAFE_KEY, False)


def allow_header(methods: Any) -> str:
    """`GET, OPTIONS, POST`: each method once, sorted, so that every answer reads alike."""
    return ", ".join(sorted({str(m).strip().upper() for m in methods if str(m).strip()}))


def route_methods(app: Any, path_template: str) -> set[str]:
    """Every method the app serves on the route whose template is `path_template`."""
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path_template:
            methods |= set(route.methods)
            get = route.route_handler_map.get("GET")
            if get is not None and safe_get(get[0]):
                methods.add("HEAD")
    return methods


def router_allow(app: Any, path: str, allow: str) -> str:
    """The `Allow` of a 405 that the router raised (the methods it has handlers for), with
    HEAD where that path's GET answers it."""
    methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
    if "GET" in methods:
        try:
            handler = app.asgi_router.handle_routing(path, "GET")[1]
        except Exception:  # no GET after all: the router's list stands
            handler = None
        if handler is not None and safe_get(handler):
            methods.add("HEAD")
    return allow_header(methods)


def options_allow(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await app(scope, receive, send)
            return
        methods = route_methods(scope["litestar_app"], scope.get("path_template", ""))
        allow = allow_header(methods).encode()

        async def send_true_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and methods:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message["headers"] = [*headers, (b"allow", allow)]
            await send(message)

        await app(scope, receive, send_true_allow)

    return middleware
