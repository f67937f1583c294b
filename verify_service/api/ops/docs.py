"""The API reference for people: Swagger UI at /docs, and the OpenAPI document as
/openapi.yaml and /openapi.json (also under /docs/).

Swagger UI's files are served by this service from verify_service/api/docs_assets (vendored
from npm's swagger-ui-dist by tools/docs_assets/vendor.py, pinned by its package-lock.json):
the page loads nothing from a CDN, so it works offline and behind strict egress rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_DIR = Path(__file__).resolve().parents[1] / "docs_assets"
ASSETS_PATH = "/docs/assets"
# Litestar's default favicon is on a CDN: the page would reach out for it.
FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


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
