"""Provider kinds by name. Adding a kind = one module + one line here.

The config package validates each `[providers.<name>]` table through `provider_options`
while it validates the settings, so a bad table fails when the config loads; this module
must never import the config package (config imports it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic_core import InitErrorDetails, PydanticCustomError

from verify_service.providers.base import Provider, ProviderOptions, TokenValidator
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.providers.kinds.console import ConsoleProvider
from verify_service.providers.kinds.http_generic import HttpGenericProvider
from verify_service.providers.kinds.smsfactor import SmsFactorProvider
from verify_service.providers.kinds.smtp import SmtpProvider
from verify_service.providers.kinds.swift import SwiftProvider
from verify_service.providers.kinds.swisscom_sms import SwisscomSmsProvider
from verify_service.providers.kinds.swisscom_token_validation import SwisscomTokenValidationProvider
from verify_service.providers.kinds.webex_connect import WebexConnectProvider
from verify_service.providers.kinds.websms import WebsmsProvider
from verify_service.providers.kinds.websms_whatsapp import WebsmsWhatsappProvider

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
        SmtpProvider,
        WebsmsWhatsappProvider,
    )
}


def provider_options(table: Mapping[str, Any]) -> ProviderOptions:
    """A `[providers.<name>]` table validated against its kind's `Options` model. Raises
    pydantic.ValidationError with locations inside the table: `kind` for an unknown kind,
    type `extra_forbidden` for a key the kind does not know."""
    kind = table.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        error = PydanticCustomError("unknown_kind", f"unknown kind {kind!r} (known: {known})")
        raise pydantic.ValidationError.from_exception_data(
            "ProviderOptions", [InitErrorDetails(type=error, loc=("kind",), input=kind)]
        )
    return KINDS[kind].Options.model_validate(dict(table))


def delegates(kind: str) -> bool:
    """Whether a kind generates and checks codes itself (a `TokenValidator`)."""
    cls = KINDS.get(kind)
    return cls is not None and issubclass(cls, TokenValidator)


def channel_problem(table: Mapping[str, Any], channel: str) -> str | None:
    """Why the provider of a (valid) `[providers.<name>]` table cannot send on `channel`:
    its kind does not carry the channel, or lacks an option the channel needs."""
    cls = KINDS[str(table["kind"])]
    if channel not in cls.channels:
        return f"kind {cls.kind} cannot send on the {channel} channel"
    return cls.channel_problem(provider_options(table), channel)


def build_provider(name: str, config: Mapping[str, Any]) -> Provider:
    """Validate a `[providers.<name>]` table and build its provider; raises ValueError with
    a message that names the bad key (and never repeats a value: they may be secrets).
    Tables of loaded `Settings` are valid already."""
    try:
        options = provider_options(config)
    except pydantic.ValidationError as exc:
        # pydantic's own text repeats the input values, and provider tables hold secrets.
        raise ValueError(_describe(name, exc)) from None
    return KINDS[options.kind](name, options)


def _describe(name: str, exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in (name, *error["loc"]))
        problems.append(f"providers.{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
