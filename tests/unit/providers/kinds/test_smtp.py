"""The `smtp` kind against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS and
implicit TLS with a CA made for the test, AUTH, and the server's refusals."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.certs import make_certificates
from tests.support.fake_http import refused_url
from tests.support.smtp_server import PASSWORD, USER, SmtpServer, smtp_server
from verify_service.domain.channels import email_content
from verify_service.providers.base import OutgoingMessage, ProviderError
from verify_service.providers.kinds.smtp import SmtpProvider
from verify_service.providers.registry import build_provider

TO = "alice@example.com"


def message(code: str = "482913", to: str = TO) -> OutgoingMessage:
    content = email_content(
        "Your code %TOKEN%", "Your code is %TOKEN%.", "<p>Code: <b>%TOKEN%</b></p>", code
    )
    return OutgoingMessage(
        to, content.text, "ver_abc.1", "email", code, content.subject, content.html
    )


def provider(server: SmtpServer, **options: Any) -> SmtpProvider:
    built = build_provider(
        "mail",
        {
            "kind": "smtp",
            "host": server.host,
            "port": server.port,
            "security": "none",
            "sender": "codes@login.example",
            "sender_name": "Login",
            **options,
        },
    )
    assert isinstance(built, SmtpProvider)
    return built


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH (needed to make the test CA)")
    directory = tmp_path_factory.mktemp("smtp-tls")
    make_certificates(directory)
    return directory


@pytest.fixture
def plain() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def test_the_email_arrives_with_subject_text_and_html(plain: SmtpServer) -> None:
    result = await provider(plain).send(message())
    got = plain.last
    assert got.sender == "codes@login.example"
    assert got.recipients == [TO]
    assert got.mail["Subject"] == "Your code 482913"
    assert got.mail["From"] == "Login <codes@login.example>"
    assert got.mail["To"] == TO
    assert got.mail["Auto-Submitted"] == "auto-generated"
    assert got.part("plain").strip() == "Your code is 482913."
    assert got.part("html").strip() == "<p>Code: <b>482913</b></p>"
    assert result.message_id == got.mail["Message-ID"].strip("<>")


async def test_starttls_with_auth(certs: Path) -> None:
    with smtp_server(security="starttls", certs=certs, auth=True) as server:
        mail = provider(
            server,
            security="starttls",
            host="localhost",
            username=USER,
            password=PASSWORD,
            ca_file=str(certs / "ca.crt"),
        )
        await mail.send(message())
        assert server.last.part("plain").strip() == "Your code is 482913."


async def test_implicit_tls(certs: Path) -> None:
    with smtp_server(security="tls", certs=certs) as server:
        mail = provider(server, security="tls", host="localhost", ca_file=str(certs / "ca.crt"))
        await mail.send(message())
        assert server.last.recipients == [TO]


async def test_a_certificate_from_an_unknown_ca_is_refused_for_good(certs: Path) -> None:
    with smtp_server(security="starttls", certs=certs) as server:
        mail = provider(server, security="starttls", host="localhost")  # system CAs only
        with pytest.raises(ProviderError) as caught:
            await mail.send(message())
        assert not caught.value.retryable
        assert server.received == []


async def test_a_wrong_password_is_permanent(certs: Path) -> None:
    with smtp_server(security="starttls", certs=certs, auth=True) as server:
        mail = provider(
            server,
            security="starttls",
            host="localhost",
            username=USER,
            password="wrong-password-0123",
            ca_file=str(certs / "ca.crt"),
        )
        with pytest.raises(ProviderError) as caught:
            await mail.send(message())
        assert "login refused" in caught.value.reason
        assert not caught.value.retryable
        assert "wrong-password" not in caught.value.reason
        assert server.received == []


async def test_a_refused_mailbox_is_the_recipients_fault(plain: SmtpServer) -> None:
    plain.refuse["nobody@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(ProviderError) as caught:
        await provider(plain).send(message(to="nobody@example.com"))
    assert caught.value.recipient_invalid
    assert not caught.value.retryable
    assert "482913" not in caught.value.reason


async def test_a_temporary_refusal_may_be_retried(plain: SmtpServer) -> None:
    plain.refuse["busy@example.com"] = "451 4.3.0 try again later"
    with pytest.raises(ProviderError) as caught:
        await provider(plain).send(message(to="busy@example.com"))
    assert caught.value.retryable
    assert not caught.value.recipient_invalid


async def test_no_server_is_retryable() -> None:
    port = int(refused_url().rsplit(":", 1)[1])
    mail = build_provider(
        "mail",
        {"kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
         "sender": "codes@login.example"},
    )  # fmt: skip
    with pytest.raises(ProviderError) as caught:
        await mail.send(message())
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"sender": "not an address"}, "sender"),
        ({"username": "u"}, "username and password go together"),
        ({"base_url": "http://x"}, "host and port"),
        ({"security": "ssl"}, "security"),
    ],
)
def test_bad_smtp_tables_name_the_key(options: dict[str, Any], problem: str) -> None:
    table = {"kind": "smtp", "host": "mail.example", "sender": "a@b.example", **options}
    with pytest.raises(ValueError, match=problem):
        build_provider("mail", table)
