"""Secrets written into a config file instead of `env:NAME` (README "Configuration").

A config file gets copied, committed and attached to tickets; the pepper, the tokens and
the provider credentials must come from the environment. Which values are secrets is read
from the models themselves (every `SecretStr` field, in nested tables too), so a new
secret setting is covered without a list to keep up to date."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from verify_service.config.models import ServiceSettings, Settings
from verify_service.providers.registry import KINDS

ENV_PREFIX = "env:"


def _types(annotation: Any) -> Iterator[Any]:
    """The plain types an annotation is made of (through Optional, unions, lists, dicts
    and Annotated)."""
    origin = get_origin(annotation)
    if origin is None:
        yield annotation
    elif origin in (Union, UnionType, Annotated, list, tuple, dict):
        for arg in get_args(annotation)[: 1 if origin is Annotated else None]:
            yield from _types(arg)


def _literal(value: Any) -> bool:
    if isinstance(value, list):
        return any(_literal(v) for v in value)
    return isinstance(value, str) and not value.startswith(ENV_PREFIX)


def _in_table(model: type[BaseModel], table: Mapping[str, Any], path: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        if name not in table:
            continue
        value, where = table[name], f"{path}.{name}" if path else name
        types = list(_types(field.annotation))
        if SecretStr in types and _literal(value):
            yield where
        nested = [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
        if nested and isinstance(value, Mapping):
            found = {p for t in nested for p in _in_table(t, value, where)}
            yield from sorted(found)


def literal_secrets(data: Mapping[str, Any]) -> list[str]:
    """The dotted keys of `data` (a config file's content) that hold a secret in plaintext
    rather than `env:NAME`; [] when there are none."""
    found = list(_in_table(Settings, data, ""))
    services = data.get("services")
    for index, service in enumerate(services if isinstance(services, list) else []):
        if isinstance(service, Mapping):
            found += _in_table(ServiceSettings, service, f"services.{index}")
    providers = data.get("providers")
    for name, table in (providers if isinstance(providers, Mapping) else {}).items():
        kind = KINDS.get(str(table.get("kind"))) if isinstance(table, Mapping) else None
        if kind is not None:
            found += _in_table(kind.Options, table, f"providers.{name}")
    return found
