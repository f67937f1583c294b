"""`smtp`: email over SMTP submission (RFC 6409), with `aiosmtplib`.

Any mail provider or an organisation's own relay: port 587 with STARTTLS (`security =
"starttls"`, the default), port 465 with implicit TLS (`"tls"`), or plain SMTP (`"none"`,
for a relay on the same host). Credentials come from the environment (`password =
"env:SMTP_PASSWORD"`); AUTH is only ever sent over TLS unless `security = "none"` says the
link is trusted. One connection per message: a code is one message, and a pooled SMTP
session would hold a slot on the relay between sends.

Outcomes: a refused recipient (5xx to RCPT TO) is `recipient_invalid` (another relay would
refuse the address too); 4xx answers, connection failures and timeouts may be retried; a
refused login, sender or message is permanent."""

from __future__ import annotations

import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cached_property
from typing import ClassVar, Literal, Self

import aiosmtplib
from pydantic import Field, SecretStr, field_validator, model_validator

from verify_service.domain.channels import AddressError, normalize_email
from verify_service.providers.base import (
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderOptions,
    SendResult,
)

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SmtpOptions(ProviderOptions):
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)  # None: 587, 465 or 25
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str  # the From address
    sender_name: str | None = Field(default=None, max_length=100)
    reply_to: str | None = None
    # A CA bundle (PEM) to trust instead of the system's, for a relay with a private CA.
    ca_file: str | None = None

    @field_validator("sender", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_email(value)
        except AddressError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.base_url is not None:
            raise ValueError("the smtp kind takes host and port, not base_url")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class SmtpProvider(Provider):
    kind = "smtp"
    Options = SmtpOptions
    channels: ClassVar[frozenset[str]] = frozenset({"email"})

    @property
    def opts(self) -> SmtpOptions:
        assert isinstance(self.options, SmtpOptions)
        return self.options

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        # Certificates are always verified; ca_file replaces the system's trust store.
        return ssl.create_default_context(cafile=self.opts.ca_file)

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        """The email as it goes on the wire: text and HTML alternatives, our Message-ID."""
        o = self.opts
        mail = EmailMessage()
        local, _, domain = o.sender.rpartition("@")
        mail["From"] = Address(display_name=o.sender_name or "", username=local, domain=domain)
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=message.reference, domain=domain)
        if o.reply_to:
            mail["Reply-To"] = o.reply_to
        # A one-time code must not be kept by auto-responders or quoted back to us.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    async def send(self, message: OutgoingMessage) -> SendResult:
        if message.channel != "email":
            raise ProviderError(f"smtp sends email, not {message.channel}", retryable=False)
        o = self.opts
        mail = self.compose(message)
        try:
            await aiosmtplib.send(
                mail,
                sender=o.sender,
                recipients=[message.to],
                hostname=o.host,
                port=o.port or DEFAULT_PORTS[o.security],
                username=o.username,
                password=o.password.get_secret_value() if o.password else None,
                use_tls=o.security == "tls",
                start_tls=o.security == "starttls",
                tls_context=self._tls if o.security != "none" else None,
                timeout=o.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else 550
            raise ProviderError(
                f"SMTP {code}: recipient refused",
                retryable=400 <= code < 500,
                recipient_invalid=code >= 500,
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ProviderError(f"SMTP {exc.code}: login refused", retryable=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            kind = type(exc).__name__.removeprefix("SMTP")
            raise ProviderError(
                f"SMTP {exc.code}: {kind}", retryable=400 <= exc.code < 500
            ) from None
        except (aiosmtplib.SMTPNotSupported, ssl.SSLCertVerificationError) as exc:
            # The relay offers no STARTTLS, or its certificate is not trusted: config.
            raise ProviderError(f"SMTP: {type(exc).__name__}", retryable=False) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused or dropped, TLS handshake, timeouts: another try may pass.
            raise ProviderError(f"SMTP: {type(exc).__name__}", retryable=True) from None
        return SendResult(message_id=mail["Message-ID"].strip("<>"))
