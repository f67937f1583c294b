"""Provider kinds by name. Adding a kind = one module + one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from verify_service.providers.base import Provider
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.providers.kinds.console import ConsoleProvider
from verify_service.providers.kinds.http_generic import HttpGenericProvider
from verify_service.providers.kinds.smsfactor import SmsFactorProvider
from verify_service.providers.kinds.swift import SwiftProvider
from verify_service.providers.kinds.swisscom_sms import SwisscomSmsProvider
from verify_service.providers.kinds.swisscom_token_validation import SwisscomTokenValidationProvider
from verify_service.providers.kinds.webex_connect import WebexConnectProvider
from verify_service.providers.kinds.websms import WebsmsProvider

KINDS: dict[str, type[Provider]] = {
    cls.kind: cls
    for cls in (
        ConsoleProvider,
        CaptureProvider,
        SwisscomSmsProvider,
        SwisscomTokenValidationProvider,
        WebsmsProvider,
        SwiftProvider,
        WebexConnectProvider,
        SmsFactorProvider,
        HttpGenericProvider,
    )
}


def build_provider(name: str, config: Mapping[str, Any]) -> Provider:
    """Validate a `[providers.<name>]` table and build its provider; raises ValueError with
    a message that names the bad key (and never repeats a value: they may be secrets)."""
    kind = config.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"providers.{name}: unknown kind {kind!r} (known: {known})")
    try:
        return KINDS[kind].from_config(name, config)
    except pydantic.ValidationError as exc:
        # pydantic's own text repeats the input values, and provider tables hold secrets.
        raise ValueError(_describe(name, exc)) from None


def _describe(name: str, exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in (name, *error["loc"]))
        problems.append(f"providers.{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
