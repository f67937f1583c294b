"""Channels: how a code reaches a person (`sms`, `whatsapp`, `voice`, `email`), what
address each takes, and the message each one carries.

`sms`, `whatsapp` and `voice` go to a phone number (E.164); `email` to an email address,
validated and normalised by `email-validator` (RFC 5321/5322 syntax, no DNS lookup at
request time: a slow resolver must not hold a start). The texts are pure functions of a
template and a code: a voice message reads the code digit by digit (text-to-speech engines
read "482913" as a number), an email has a subject, a text body and an HTML body in which
everything that is not the configured markup is escaped."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal, get_args

from email_validator import EmailNotValidError, validate_email

from verify_service.domain.templates import PLACEHOLDER, render

Channel = Literal["sms", "whatsapp", "voice", "email"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
PHONE_CHANNELS: frozenset[str] = frozenset({"sms", "whatsapp", "voice"})
# Twilio's word for a channel where it differs from ours (the Twilio dialect maps both ways).
TWILIO_NAMES: dict[str, str] = {"voice": "call"}

DEFAULT_VOICE_TEMPLATE = f"Your verification code is {PLACEHOLDER}. Again: {PLACEHOLDER}."
DEFAULT_EMAIL_SUBJECT = "Your verification code"
DEFAULT_EMAIL_TEXT = f"Your verification code is {PLACEHOLDER}."
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets


class AddressError(ValueError):
    """`to` is not an address the channel can reach; the message says why."""


def is_channel(value: str) -> bool:
    return value in CHANNELS


def needs_phone(channel: str) -> bool:
    """True for the channels that go to a phone number, False for email."""
    return channel in PHONE_CHANNELS


def looks_like_email(value: str) -> bool:
    """What a caller meant: an `@` makes it an email address, never a phone number."""
    return "@" in value


def normalize_email(value: str) -> str:
    """The address as stored and tagged: email-validator's normalised form (Unicode NFC,
    domain lower-cased and IDNA-checked; the local part kept, since only the receiving
    server may fold its case). Raises AddressError with email-validator's reason."""
    if len(value) > MAX_EMAIL_LENGTH:
        raise AddressError(f"an email address has at most {MAX_EMAIL_LENGTH} characters")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AddressError(f"not an email address: {exc}") from None


def spell_code(code: str) -> str:
    """The code as a voice reads it: one character at a time, with pauses.
    "4829" -> "4, 8, 2, 9"."""
    return ", ".join(code)


def voice_text(template: str, code: str) -> str:
    """The text a voice call speaks: the template with every %TOKEN% spelled out (the
    default template says the code twice, so a listener who missed it hears it again)."""
    return render(template, spell_code(code))


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str
    html: str


def email_content(subject: str, text: str, html_template: str | None, code: str) -> EmailContent:
    """An email's parts. `html_template` is trusted markup from the config and only the
    code is put into it (escaped); without one, the HTML body is the text body, escaped
    whole, its lines kept. The subject may hold %TOKEN% too (mail apps show it in the
    notification)."""
    if html_template is None:
        body = "<br>\n".join(html.escape(line) for line in render(text, code).splitlines())
        markup = (
            f'<!doctype html>\n<html><body>\n<p style="font-size:16px">{body}</p>\n</body></html>'
        )
    else:
        markup = render(html_template, html.escape(code))
    return EmailContent(render(subject, code), render(text, code), markup)


def twilio_channel(channel: str) -> str:
    """Our channel in Twilio's words (`voice` -> `call`)."""
    return TWILIO_NAMES.get(channel, channel)


def from_twilio_channel(name: str) -> str | None:
    """Twilio's `Channel` in our words; None for one we do not have (`sna`, `auto`, ...)."""
    if name in TWILIO_NAMES:  # our word where Twilio has its own ("voice"): not Twilio's
        return None
    ours = {v: k for k, v in TWILIO_NAMES.items()}.get(name, name)
    return ours if ours in CHANNELS else None


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """One step of a fallback workflow: send on `channel`; if the verification is still
    pending `timeout` seconds later (or the send is reported undelivered), go on to the
    next step. The last step needs no timeout."""

    channel: str
    timeout: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"channel": self.channel, "timeout": self.timeout}
