"""Errors where people read pages answer with pages, and every API prefix keeps its own
error shape on any path under it.

Observed: `GET /docs/<unknown>` answered the framework's bare HTML 404 ("Error 404"), while
`/docs/<unknown>.json`, `/docs/a/b` and a missing Swagger UI file answered problem+json, and
an unknown console page answered problem+json too. Under /docs every such answer is now the
reference's own 404 page (with the way back), under the console path the console's error
page; neither echoes the path nor shows any trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.api.test_dialect_errors import METHODS, SEGMENT, assert_problem
from tests.conftest import config
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

SETTINGS = settings_from_mapping(config(console={"users": []}), environ={})
PROBE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(SETTINGS)) as c:
        yield c


def assert_docs_page(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    text: str = r.text
    assert "verify-service API reference" in text
    assert 'href="/docs"' in text
    assert 'href="/openapi.yaml"' in text
    assert "Error 404" not in text  # not the framework's page
    assert "Traceback" not in text
    assert "litestar" not in text.lower()
    assert "script" not in text.lower()  # the path is never echoed
    return text


@pytest.mark.parametrize(
    "path",
    [
        "/docs/nothing",
        "/docs/" + quote(PROBE, safe=""),
        "/docs/nothing.json",
        "/docs/openapi.yml",
        "/docs/a/b",
        "/docs/assets/nothing.js",
        "/docs/assets/" + quote(PROBE, safe=""),
    ],
)
def test_unknown_pages_under_docs_are_the_references_404(
    client: TestClient[Any], path: str
) -> None:
    assert "Not found" in assert_docs_page(client.get(path), 404)
    head = client.head(path)
    assert (head.status_code, head.content) == (404, b"")


def test_other_methods_on_the_reference_are_a_405_page(client: TestClient[Any]) -> None:
    for method in ("POST", "PUT", "DELETE"):
        r = client.request(method, "/docs")
        assert_docs_page(r, 405)
        assert r.headers["allow"] == "GET, HEAD, OPTIONS"


def test_the_reference_itself_still_answers(client: TestClient[Any]) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/docs/openapi.json").json()["info"]["title"] == "verify-service"
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200


@given(segments=st.lists(SEGMENT, min_size=1, max_size=4))
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_path_under_docs_answers_a_page(client: TestClient[Any], segments: list[str]) -> None:
    r = client.get("/".join(["/docs", *segments]))
    assert r.status_code in (200, 404), r.text
    assert r.headers["content-type"].startswith("text/html") or r.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/console/nothing", 404),
        ("GET", "/console/" + quote(PROBE, safe=""), 404),
        ("GET", "/console/static/nothing.css", 404),
        ("POST", "/console/attempts", 405),
    ],
)
def test_unknown_console_pages_are_the_consoles_error_page(
    client: TestClient[Any], method: str, path: str, status: int
) -> None:
    r = client.request(method, path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-frame-options"] == "DENY"  # the console's page headers
    assert 'href="/console/"' in r.text
    assert "alert(1)" not in r.text
    assert "Traceback" not in r.text


@given(segments=st.lists(SEGMENT, max_size=4), method=st.sampled_from(METHODS))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_4xx_under_v1_and_elsewhere_is_problem_json(
    client: TestClient[Any], segments: list[str], method: str
) -> None:
    for prefix in ("/v1", "/v1/verifications", "/health", "/metrics", "/v3"):
        r = client.request(method, "/".join([prefix, *segments]))
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert_problem(r, r.status_code)
