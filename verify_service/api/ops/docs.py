"""The API reference for people: Swagger UI at /docs, and the OpenAPI document as
/openapi.yaml and /openapi.json (also under /docs/).

Swagger UI's files are served by this service from verify_service/api/docs_assets (vendored
from npm's swagger-ui-dist by tools/docs_assets/vendor.py, pinned by its package-lock.json):
the page loads nothing from a CDN, so it works offline and behind strict egress rules.

Under /docs everything is for people reading in a browser: a path that is not there, or a
method the page does not serve, answers with a page of ours (`error_page`), not the
framework's bare one and not a JSON document."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml
from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_DIR = Path(__file__).resolve().parents[1] / "docs_assets"
ASSETS_PATH = "/docs/assets"
# Litestar's default favicon is on a CDN: the page would reach out for it.
FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


DOCS_PATH = "/docs"
_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    431: "Request headers too large",
}
_MESSAGES = {
    404: "There is no page at this address in the API reference.",
    405: "This page of the API reference is only read (GET).",
}
# The page loads nothing: its one style is inline.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} {title} · verify-service API reference</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{message}</p>
<p><a href="/docs">The API reference</a> · <a href="/openapi.yaml">openapi.yaml</a> ·
<a href="/openapi.json">openapi.json</a></p>
</body>
</html>
"""


def error_page(status: int, headers: dict[str, str] | None = None) -> Response[str]:
    """The reference's own HTML error page (never echoes the path, never a trace)."""
    title = _TITLES.get(status) or ("Bad request" if status < 500 else "Server error")
    message = _MESSAGES.get(status) or (
        "The request could not be read." if status < 500 else "The page could not be made."
    )
    body = _PAGE.format(status=status, title=html.escape(title), message=html.escape(message))
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={**(headers or {}), **_PAGE_HEADERS},
    )


def on_docs_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    return error_page(exc.status_code, dict(exc.headers or {}))


async def _own_not_found(response: Response[Any]) -> Response[Any]:
    # Litestar's catch-all under the UI's path returns its bare HTML 404: ours instead.
    return error_page(404) if response.status_code == 404 else response


def openapi_router() -> Router:
    """For OpenAPIConfig(openapi_router=…): the router the UI and its catch-all go on."""
    return Router(
        DOCS_PATH,
        route_handlers=[],
        include_in_schema=False,
        after_request=_own_not_found,
        exception_handlers={HTTPException: on_docs_error},
    )


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """For OpenAPIConfig(path="/docs"): the UI at /docs (Litestar adds /docs/openapi.json)."""
    return [
        SwaggerRenderPlugin(
            path="/",
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon=FAVICON,
        )
    ]


def _schema(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()


def as_yaml(schema: dict[str, Any]) -> str:
    """The YAML form of openapi.yaml (`verify-service openapi` writes the same)."""
    return yaml.safe_dump(schema, sort_keys=False, allow_unicode=True)


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _schema(request)


@get("/openapi.yaml", include_in_schema=False, sync_to_thread=False)
def openapi_yaml(request: Request[Any, Any, Any]) -> Response[str]:
    return Response(as_yaml(_schema(request)), media_type="application/vnd.oai.openapi")


def assets() -> Router:
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="docs_assets",
        cache_control=CacheControlHeader(max_age=86400),
    )
