"""HTML for the console: jinja2 templates (autoescaped) from this package, answered with
headers that keep pages out of caches, frames and other origins' reach."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response
from litestar.enums import MediaType

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Everything from this origin; inline styles only for the SVG charts pygal writes.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Searched numbers and one-time tokens sit in URLs: never hand them to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _whole_seconds(seconds: float | None) -> str:
    """A quantile of times kept in whole seconds (a delivery report's), up to the next
    whole second: no false precision."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    return f"{seconds / 60:.1f} min"


_ENV.filters["percent"] = _percent
_ENV.filters["report_time"] = _whole_seconds


def render(name: str, **context: Any) -> str:
    return _ENV.get_template(name).render(**context)


def page(name: str, status_code: int = 200, **context: Any) -> Response[str]:
    return Response(
        render(name, **context),
        status_code=status_code,
        media_type=MediaType.HTML,
        headers=SECURITY_HEADERS,
    )
