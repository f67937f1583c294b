from __future__ import annotations

from pathlib import Path

import yaml

from verify_service.cli import openapi_document

ROOT = Path(__file__).resolve().parents[3]


def test_openapi_yaml_is_what_the_app_generates() -> None:
    committed = (ROOT / "openapi.yaml").read_text()
    assert committed == openapi_document(), "regenerate: verify-service openapi > openapi.yaml"


def test_openapi_documents_every_native_route_and_problem_shape() -> None:
    doc = yaml.safe_load(openapi_document())
    paths = doc["paths"]
    assert set(paths) >= {
        "/v1/verifications",
        "/v1/verifications/check",
        "/v1/verifications/{verification_id}",
        "/v1/verifications/{verification_id}/cancel",
        "/health/live",
        "/health/ready",
        "/metrics",
    }
    start = paths["/v1/verifications"]["post"]
    assert "201" in start["responses"]
    assert "application/problem+json" in start["responses"]["429"]["content"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
