"""What the environment adds to a config file before validation: `env:NAME` values
(secrets stay out of the file) and `VERIFY_<KEY>` overrides of top-level keys (12-factor
deployments). The environment is always passed in: only cli.py and the worker factory
(api/app.py `create_app_from_env`) read the process's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verify_service.config.errors import ConfigError
from verify_service.config.models import api_key_problem, hash_api_key

ENV_PREFIX = "env:"

# Top-level keys that an environment variable VERIFY_<KEY> overrides.
ENV_OVERRIDES = (
    "redis_url",
    "default_region",
    "pepper",
    "id_key",
    "retention",
    "test_mode",
    "metrics_token",
)


@dataclass
class Resolved:
    """The config data with the environment applied. `missing` holds one line per
    `env:NAME` whose variable is unset (`<key>: environment variable NAME is not set`) or
    holds an API key anyone could guess; such values are left as written (or hashed), so
    that validation can still find unknown keys, which are reported first."""

    data: dict[str, Any]
    missing: list[str] = field(default_factory=list)


def resolve(data: Mapping[str, Any], environ: Mapping[str, str]) -> Resolved:
    """Apply `environ` to the config `data`; ConfigError for a secret written in the file
    where only `env:NAME` is allowed."""
    result = Resolved({})
    prepared = dict(data)
    _check_report_secrets(prepared)
    # API keys read from the environment are plaintext: hash them before anything keeps them.
    for table in ("services", "operators"):
        entries = prepared.get(table)
        if isinstance(entries, list):
            prepared[table] = [
                _hash_env_keys(entry, environ, f"{table}.{index}", result.missing)
                for index, entry in enumerate(entries)
            ]
    result.data = _resolve(prepared, "", environ, result.missing)
    for key in ENV_OVERRIDES:
        env_name = f"VERIFY_{key.upper()}"
        if env_name in environ:
            result.data[key] = environ[env_name]
    return result


def _check_report_secrets(data: dict[str, Any]) -> None:
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return
    for name, table in providers.items():
        secret = table.get("report_secret") if isinstance(table, dict) else None
        # It authenticates a provider's callbacks: keep it out of the file like a key.
        if secret is not None and not (isinstance(secret, str) and secret.startswith(ENV_PREFIX)):
            raise ConfigError(f'providers.{name}.report_secret: write it as "env:NAME"')


def _hash_env_keys(service: Any, environ: Mapping[str, str], path: str, problems: list[str]) -> Any:
    if not (isinstance(service, dict) and isinstance(service.get("api_keys"), list)):
        return service
    keys = []
    for index, key in enumerate(service["api_keys"]):
        name = (
            key[len(ENV_PREFIX) :] if isinstance(key, str) and key.startswith(ENV_PREFIX) else None
        )
        # An unset variable stays "env:NAME" here and is reported by _resolve.
        if name is not None and name in environ:
            problem = api_key_problem(environ[name])  # never quoting the key itself
            if problem is not None:
                where = f"{path}.api_keys.{index}"
                problems.append(f"{where}: the API key in environment variable {name} {problem}")
            key = hash_api_key(environ[name])
        keys.append(key)
    return {**service, "api_keys": keys}


def _resolve(value: Any, path: str, environ: Mapping[str, str], missing: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _resolve(v, f"{path}.{k}" if path else k, environ, missing) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve(v, f"{path}.{i}", environ, missing) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in environ:
            missing.append(f"{path}: environment variable {name} is not set")
            return value
        return environ[name]
    return value
