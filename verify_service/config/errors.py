"""The one error a configuration raises, and how pydantic's findings are worded in it."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """A configuration that cannot run; the message says which key and why."""


def describe(errors: Iterable[ErrorDetails]) -> list[str]:
    """One line per finding, `<dotted key>: <problem>` (`providers.sms.access_token: Field
    required`); never the value, which may be a secret."""
    lines = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def invalid(lines: Iterable[str]) -> ConfigError:
    return ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
