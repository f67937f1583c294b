"""Channel rules without I/O: addresses per channel, the voice text, the email parts."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.channels import (
    AddressError,
    email_content,
    from_twilio_channel,
    normalize_email,
    spell_code,
    twilio_channel,
    voice_text,
)

CODES = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=4, max_size=12)
TEXTS = st.text(min_size=0, max_size=80).filter(lambda t: "%TOKEN%" not in t)


@given(CODES)
def test_a_voice_reads_every_character_of_the_code_in_order(code: str) -> None:
    spoken = voice_text("Your code is %TOKEN%. Again: %TOKEN%.", code)
    assert spoken.count(spell_code(code)) == 2
    assert spell_code(code).split(", ") == list(code)


@given(TEXTS, TEXTS, CODES)
def test_the_html_body_escapes_whatever_the_text_template_holds(
    before: str, after: str, code: str
) -> None:
    content = email_content("Code", f"{before}%TOKEN%{after}", None, code)
    assert content.text == f"{before}{code}{after}"
    body = content.html.split('<p style="font-size:16px">', 1)[1].rsplit("</p>", 1)[0]
    assert "<" not in body.replace("<br>", "")  # no markup but our line breaks
    assert html.unescape(body.replace("<br>\n", "\n")) == "\n".join(content.text.splitlines())


def test_configured_html_gets_the_code_escaped_and_nothing_else() -> None:
    content = email_content("Code %TOKEN%", "t %TOKEN%", "<p><b>%TOKEN%</b></p>", "A<1>")
    assert content.html == "<p><b>A&lt;1&gt;</b></p>"
    assert content.subject == "Code A<1>"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@EXAMPLE.COM", "Alice@example.com"),
        ("bob@bücher.example", "bob@bücher.example"),
    ],
)
def test_email_addresses_are_normalised(raw: str, normalised: str) -> None:
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["alice", "alice@", "@example.com", "a b@example.com", "a@" + "x" * 260 + ".com"]
)
def test_not_email_addresses(raw: str) -> None:
    with pytest.raises(AddressError):
        normalize_email(raw)


def test_twilio_words_for_channels() -> None:
    assert [twilio_channel(c) for c in ("sms", "whatsapp", "voice", "email")] == [
        "sms",
        "whatsapp",
        "call",
        "email",
    ]
    assert [from_twilio_channel(c) for c in ("sms", "call", "email", "voice", "sna")] == [
        "sms",
        "voice",
        "email",
        None,
        None,
    ]
