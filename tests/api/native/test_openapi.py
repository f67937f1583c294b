from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

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


def test_openapi_yaml_is_valid_openapi_3_1() -> None:
    """What generators and linters read must be valid OpenAPI, not only what we generate."""
    doc = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises OpenAPIValidationError, naming the path, on the first fault


def test_the_validator_catches_what_broke_the_document_before() -> None:
    """A response header without `schema` (the Swisscom SCS-Request-ID once) is refused."""
    doc = yaml.safe_load(openapi_document())
    check = doc["paths"]["/messaging/tokenvalidation/{msisdn}/{token}"]["get"]
    del check["responses"]["200"]["headers"]["SCS-Request-ID"]["schema"]
    with pytest.raises(OpenAPIValidationError):
        validate(doc)


def test_every_operation_declares_its_credentials_or_none() -> None:
    """Each dialect's scheme on its routes; the rest say explicitly that they take none."""
    doc = yaml.safe_load(openapi_document())
    assert doc["security"] == [{}]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["swisscom_client_id"] == {
        "type": "apiKey",
        "name": "client_id",
        "in": "header",
        "description": schemes["swisscom_client_id"]["description"],
    }
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            expected = {"/v1/verifications": "bearer", "/v2/": "twilio_basic"}
            wanted = next(
                (v for k, v in expected.items() if path.startswith(k)),
                "swisscom_client_id" if path.startswith("/messaging/") else None,
            )
            if wanted:
                assert operation["security"] == [{wanted: []}], (method, path)
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            assert "client_id" not in names, (method, path)  # a scheme, not a parameter


def test_swisscom_version_header_is_required_as_the_server_requires_it() -> None:
    doc = yaml.safe_load(openapi_document())
    for item in (
        doc["paths"]["/messaging/tokenvalidation"]["post"],
        doc["paths"]["/messaging/tokenvalidation/{msisdn}/{token}"]["get"],
    ):
        (version,) = [p for p in item["parameters"] if p["name"] == "SCS-Version"]
        assert version["required"] is True
        assert version["schema"]["const"] == "2"
