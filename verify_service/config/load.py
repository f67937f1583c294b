"""Loading: a TOML file or a mapping, the environment applied, the settings validated.
Every failure is a ConfigError naming the key; unknown keys are reported before unset
environment variables (a misspelt key is the likelier cause of both)."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from verify_service.config.console import ConsoleSettings
from verify_service.config.env import resolve
from verify_service.config.errors import ConfigError, describe, invalid
from verify_service.config.file_secrets import literal_secrets
from verify_service.config.models import ServiceSettings, Settings, hash_api_key


def settings_from_mapping(data: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Validated settings from config `data` (the TOML file's shape) and `environ` (for
    `env:NAME` values and `VERIFY_*` overrides; pass `os.environ` to use the process's)."""
    resolved = resolve(data, environ)
    try:
        settings = Settings.model_validate(resolved.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if resolved.missing:
            # Values of unset variables were left as "env:NAME": only unknown keys count.
            errors = [e for e in errors if e["type"] == "extra_forbidden"]
        if errors:
            raise invalid(describe(errors)) from None
        raise ConfigError("\n".join(resolved.missing)) from None
    if resolved.missing:  # the "env:NAME" text happened to pass as a value
        raise ConfigError("\n".join(resolved.missing))
    return settings


def load_settings(path: str | Path, environ: Mapping[str, str]) -> Settings:
    """`settings_from_mapping` of a TOML file; ConfigError when it is missing or not TOML."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    written = literal_secrets(data)
    if written:  # the value itself is never repeated: it is what must not spread
        raise ConfigError(
            "\n".join(
                f'{key}: a secret written in the file; write "env:NAME" and set the '
                "environment variable NAME instead"
                for key in written
            )
        )
    return settings_from_mapping(data, environ)


def dev_settings(api_key: str | None = None) -> tuple[Settings, str]:
    """Dev mode (README "The two commands"): embedded store, console provider, one service with
    `api_key` (default: a fresh one); returns the settings and that key."""
    api_key = api_key or "dev_" + secrets.token_urlsafe(24)
    settings = Settings(
        providers={"console": {"kind": "console"}},
        services=[
            ServiceSettings(name="default", api_keys=[hash_api_key(api_key)], providers=["console"])
        ],
        # The operations console over plain HTTP on this machine; signed in through the
        # one-time link `serve` prints (no operator passwords in dev mode).
        console=ConsoleSettings(secure_cookie=False),
    )
    return settings, api_key
