"""Per-service channel settings: which channels beyond SMS a service offers, each one's
providers and templates, and the fallback workflow.

The SMS channel keeps the service's top-level `providers`, `template` and `templates`, so
every config written before channels existed means what it meant. A channel is allowed
when the service has a table for it:

    [services.channels.whatsapp]
    providers = ["webex"]
    template = "Your code is %TOKEN%"

    [services.channels.email]
    providers = ["smtp"]
    subject = "Your code"
    template = "Your code is %TOKEN%."
    html = "<p>Your code is <b>%TOKEN%</b></p>"
    [services.channels.email.locales.de]
    subject = "Ihr Code"
    template = "Ihr Code lautet %TOKEN%."
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from verify_service.domain.channels import (
    DEFAULT_EMAIL_SUBJECT,
    DEFAULT_EMAIL_TEXT,
    Channel,
    WorkflowStep,
    needs_phone,
)
from verify_service.domain.templates import PLACEHOLDER, TemplateError, validate_template

MAX_STEP_TIMEOUT = 3600  # seconds; a step waits no longer than a code may live anyway
MIN_STEP_TIMEOUT = 5
MAX_STEPS = 5
MAX_SUBJECT_LENGTH = 200
MAX_HTML_LENGTH = 20_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _template(value: str) -> str:
    try:
        return validate_template(value)
    except TemplateError as exc:
        raise ValueError(str(exc)) from None


class TextChannel(_Strict):
    """WhatsApp or voice: providers tried in order, a text template per locale. For voice
    each %TOKEN% is read digit by digit."""

    providers: list[str] = Field(min_length=1)
    template: str | None = None  # None: the service's SMS template (voice: its own default)
    templates: dict[str, str] = Field(default_factory=dict)

    @field_validator("template")
    @classmethod
    def _one(cls, value: str | None) -> str | None:
        return None if value is None else _template(value)

    @field_validator("templates")
    @classmethod
    def _many(cls, values: dict[str, str]) -> dict[str, str]:
        for locale, value in values.items():
            try:
                _template(value)
            except ValueError as exc:
                raise ValueError(f"templates.{locale}: {exc}") from None
        return values


class EmailTemplate(_Strict):
    """An email in one locale. `template` is the text body; `html` the HTML body, trusted
    markup into which only the (escaped) code is put; without `html` the text body is sent
    as HTML too, escaped."""

    subject: str = Field(default=DEFAULT_EMAIL_SUBJECT, min_length=1, max_length=MAX_SUBJECT_LENGTH)
    template: str = DEFAULT_EMAIL_TEXT
    html: str | None = Field(default=None, max_length=MAX_HTML_LENGTH)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        # A line break in a subject would start a new mail header.
        if any(c in value for c in "\r\n"):
            raise ValueError("the subject must be one line")
        return value

    @field_validator("template")
    @classmethod
    def _text(cls, value: str) -> str:
        return _template(value)

    @field_validator("html")
    @classmethod
    def _html(cls, value: str | None) -> str | None:
        if value is not None and PLACEHOLDER not in value:
            raise ValueError(f"the HTML body must contain {PLACEHOLDER}")
        return value


class EmailChannel(EmailTemplate):
    providers: list[str] = Field(min_length=1)
    locales: dict[str, EmailTemplate] = Field(default_factory=dict)


class ChannelTables(_Strict):
    """The channels a service offers besides SMS (each table present = allowed)."""

    whatsapp: TextChannel | None = None
    voice: TextChannel | None = None
    email: EmailChannel | None = None


class WorkflowStepSettings(_Strict):
    channel: Channel
    timeout: int | None = Field(default=None, ge=MIN_STEP_TIMEOUT, le=MAX_STEP_TIMEOUT)

    def step(self) -> WorkflowStep:
        return WorkflowStep(self.channel, self.timeout)


def allowed_channels(tables: ChannelTables) -> tuple[str, ...]:
    """sms first, then each configured channel."""
    return ("sms", *(name for name in ("whatsapp", "voice", "email") if getattr(tables, name)))


def channel_providers(
    tables: ChannelTables, sms_providers: Sequence[str], channel: str
) -> list[str]:
    if channel == "sms":
        return list(sms_providers)
    table = getattr(tables, channel, None)
    return [] if table is None else list(table.providers)


def workflow_problem(steps: Sequence[WorkflowStep], allowed: Sequence[str]) -> str | None:
    """Why `steps` cannot run for a service that allows `allowed`, or None. Rules: 1 to
    MAX_STEPS steps, each on an allowed channel, no channel twice in a row, a timeout on
    every step but the last (the last has nothing to fall back to), and one kind of
    address for all (a workflow has one `to`)."""
    if not 1 <= len(steps) <= MAX_STEPS:
        return f"a workflow has 1 to {MAX_STEPS} steps"
    for index, step in enumerate(steps):
        if step.channel not in allowed:
            return (
                f"workflow step {index + 1}: channel {step.channel!r} is not enabled for this "
                f"service (enabled: {', '.join(allowed)})"
            )
        if index < len(steps) - 1 and step.timeout is None:
            return f"workflow step {index + 1} needs a timeout (seconds before the next step)"
        if step.timeout is not None and not MIN_STEP_TIMEOUT <= step.timeout <= MAX_STEP_TIMEOUT:
            return (
                f"workflow step {index + 1}: timeout must be "
                f"{MIN_STEP_TIMEOUT}-{MAX_STEP_TIMEOUT} seconds"
            )
        if index and steps[index - 1].channel == step.channel:
            return f"workflow step {index + 1} repeats the channel of the step before it"
    if len({needs_phone(step.channel) for step in steps}) > 1:
        return "a workflow cannot mix email with phone channels: it has one `to`"
    return None


def check_channel_providers(
    service: str,
    channels: Mapping[str, Sequence[str]],
    tables: Mapping[str, Mapping[str, Any]],
    problem: Callable[[Mapping[str, Any], str], str | None],
) -> None:
    """Raise ValueError for a channel whose provider has no table or cannot carry it.
    `channels`: channel -> provider names; `tables`: the [providers.*] tables;
    `problem(table, channel)`: the provider registry's `channel_problem`."""
    for channel, names in channels.items():
        for name in names:
            if name not in tables:
                raise ValueError(
                    f"service {service!r}: channel {channel} uses provider {name!r}, "
                    "which has no [providers.*] table"
                )
            found = problem(tables[name], channel)
            if found is not None:
                raise ValueError(f"service {service!r}: provider {name!r}: {found}")


def check_workflow(steps: Sequence[WorkflowStepSettings], allowed: Sequence[str]) -> None:
    """Raise ValueError when a configured workflow breaks `workflow_problem`'s rules."""
    problem = workflow_problem([s.step() for s in steps], allowed) if steps else None
    if problem is not None:
        raise ValueError(f"workflow: {problem}")
