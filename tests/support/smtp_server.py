"""A real SMTP server on loopback (aiosmtpd, in its own thread and event loop): what the
`smtp` provider kind talks to in tests. Not a mock: the client runs its whole SMTP
conversation (EHLO, STARTTLS or implicit TLS, AUTH, MAIL, RCPT, DATA) against it.

Every accepted message is kept, parsed (`Received.mail`). `refuse` maps a recipient to an
SMTP reply for its RCPT TO ("550 5.1.1 no such user", "451 4.3.0 try later")."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "mailer"
PASSWORD = "smtp-password-0123456789"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    mail: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded body of the text/<subtype> alternative."""
        found = self.mail.get_body(preferencelist=(subtype,))
        assert found is not None, f"no text/{subtype} part"
        content = found.get_content()
        assert isinstance(content, str)
        return content


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), mail))
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == USER.encode()
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: _Handler

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def refuse(self) -> dict[str, str]:
        return self.handler.refuse

    @property
    def last(self) -> Received:
        assert self.received, "the SMTP server got no message"
        return self.received[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_context(certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server.crt", certs / "server.key")
    return context


@contextmanager
def smtp_server(
    *, security: str = "none", certs: Path | None = None, auth: bool = False
) -> Iterator[SmtpServer]:
    """Serve SMTP on 127.0.0.1: `security` "none", "starttls" (STARTTLS offered and
    required) or "tls" (implicit TLS); `auth` requires AUTH as USER/PASSWORD."""
    handler = _Handler()
    port = _free_port()
    kwargs: dict[str, Any] = {}
    if security != "none":
        assert certs is not None, "TLS needs the test certificates"
        context = _server_context(certs)
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if auth:
        kwargs.update(authenticator=_authenticator, auth_require_tls=security != "none")
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()
