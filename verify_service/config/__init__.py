"""Configuration: the TOML settings tree (models), `env:` secrets and `VERIFY_*` overrides
(env), loading (load); `load_settings` is the one place a configuration fails."""

from verify_service.config.errors import ConfigError
from verify_service.config.load import dev_settings, load_settings, settings_from_mapping
from verify_service.config.models import (
    HashingSettings,
    ServiceSettings,
    Settings,
    api_key_problem,
    derived_sid,
    hash_api_key,
)

__all__ = [
    "ConfigError",
    "HashingSettings",
    "ServiceSettings",
    "Settings",
    "api_key_problem",
    "derived_sid",
    "dev_settings",
    "hash_api_key",
    "load_settings",
    "settings_from_mapping",
]
