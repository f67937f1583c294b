"""API key -> service. Keys are compared as SHA-256 digests: the config holds only hashes,
and a dict lookup on a digest reveals nothing about the key through timing."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from litestar import Request

from verify_service.config import ServiceSettings, Settings
from verify_service.domain.errors import VerifyError
from verify_service.observability import logs


def key_index(settings: Settings) -> dict[str, ServiceSettings]:
    return {
        key.removeprefix("sha256:"): service
        for service in settings.services
        for key in service.api_keys
    }


def service_for_key(index: Mapping[str, ServiceSettings], key: str | None) -> ServiceSettings:
    if not key:
        raise VerifyError("unauthorized", "send the API key as 'Authorization: Bearer <key>'")
    service = index.get(hashlib.sha256(key.encode()).hexdigest())
    if service is None:
        raise VerifyError("unauthorized", "the API key is not valid")
    logs.bind(service=service.name)  # every log line of this request names the tenant
    return service


def bearer_service(request: Request[Any, Any, Any]) -> ServiceSettings:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        key = ""
    return service_for_key(request.app.state.api_keys, key.strip())
