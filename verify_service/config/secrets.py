"""Every secret a configuration holds in plaintext, for the log redaction filter
(`observability.logs.configure_logging(secrets=...)`). Kept with the config, which knows
where its secrets sit, so that the logs need not know the settings' shape."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from verify_service.config.models import Settings

# Provider config keys whose values are credentials, matched as substrings of the key.
_SECRET_KEY = re.compile(r"token|password|secret|key|client_id|auth|header", re.IGNORECASE)


def _secret_values(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _secret_values(v, f"{key}.{k}")
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _secret_values(v, key)
    elif isinstance(value, str) and _SECRET_KEY.search(key):
        yield value
        scheme, _, credential = value.partition(" ")  # "Bearer xyz" header values
        if credential and scheme.lower() in ("bearer", "basic", "token"):
            yield credential


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the configuration holds in plaintext, for the redaction filter."""
    found: list[str] = []
    for secret in (settings.pepper, settings.metrics_token, settings.id_key):
        if secret is not None:
            found.append(secret.get_secret_value())
    for service in settings.services:
        if service.status_callback_secret is not None:
            found.append(service.status_callback_secret.get_secret_value())
    for name, config in settings.providers.items():
        found.extend(_secret_values(config, name))
    if settings.redis_url:
        password = urlsplit(settings.redis_url).password
        if password:
            found.append(password)
    return found
