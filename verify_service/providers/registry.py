"""Provider kinds by name. Adding a kind = one module + one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verify_service.providers.base import Provider
from verify_service.providers.capture import CaptureProvider
from verify_service.providers.console import ConsoleProvider
from verify_service.providers.http_generic import HttpGenericProvider
from verify_service.providers.smsfactor import SmsFactorProvider
from verify_service.providers.swift import SwiftProvider
from verify_service.providers.swisscom_sms import SwisscomSmsProvider
from verify_service.providers.swisscom_token_validation import SwisscomTokenValidationProvider
from verify_service.providers.webex_connect import WebexConnectProvider
from verify_service.providers.websms import WebsmsProvider

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
    """Validate a `[providers.<name>]` table and build its provider; raises ValueError or
    pydantic.ValidationError with a message that names the bad key."""
    kind = config.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"providers.{name}: unknown kind {kind!r} (known: {known})")
    return KINDS[kind].from_config(name, config)
