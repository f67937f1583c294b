"""The message of one send, per channel: which template (by channel and locale), the code
put into it, and the parts a channel needs (an email's subject and HTML body).

SMS keeps the service's own `template`/`templates` and the phone-autofill lines. WhatsApp
uses its channel's templates, else the SMS ones without autofill lines (they are SMS
features). Voice speaks its template with the code spelled out. Email chooses a locale's
subject and bodies. A start's own `template` replaces the text template on any channel."""

from __future__ import annotations

from collections.abc import Sequence

from verify_service.config import ServiceSettings
from verify_service.config.channels import EmailTemplate
from verify_service.domain import channels, templates
from verify_service.providers.base import OutgoingMessage

Wanted = str | Sequence[str] | None  # one locale, or Accept-Language preferences


def compose(
    service: ServiceSettings,
    channel: str,
    code: str,
    *,
    to: str,
    reference: str,
    wanted: Wanted = None,
    template: str | None = None,
) -> OutgoingMessage:
    """The message carrying `code` to `to` on `channel` (which the service allows)."""
    tables = service.channels
    if channel == "email":
        assert tables.email is not None
        parts: EmailTemplate = tables.email
        if wanted:
            chosen = templates.choose_template("", {k: k for k in tables.email.locales}, wanted)
            parts = tables.email.locales.get(chosen, tables.email)
        content = channels.email_content(
            parts.subject, template or parts.template, None if template else parts.html, code
        )
        return OutgoingMessage(
            to, content.text, reference, channel, code, content.subject, content.html
        )
    if channel == "voice":
        assert tables.voice is not None
        chosen = template or templates.choose_template(
            tables.voice.template or channels.DEFAULT_VOICE_TEMPLATE,
            tables.voice.templates,
            wanted,
        )
        return OutgoingMessage(to, channels.voice_text(chosen, code), reference, channel, code)
    if channel == "whatsapp":
        assert tables.whatsapp is not None
        own = tables.whatsapp
        if own.template is None and not own.templates:
            default, by_locale = service.template, service.templates
        else:
            default, by_locale = own.template or service.template, own.templates
        chosen = template or templates.choose_template(default, by_locale, wanted)
        return OutgoingMessage(to, templates.render(chosen, code), reference, channel, code)
    chosen = template or templates.choose_template(service.template, service.templates, wanted)
    text = templates.compose(chosen, code, service.autofill)
    return OutgoingMessage(to, text, reference, channel, code)
