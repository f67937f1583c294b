"""The redaction filter on its own: whatever a log call holds, secrets do not get out."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given
from hypothesis import strategies as st

from verify_service.config import settings_from_mapping
from verify_service.config.secrets import secrets_of
from verify_service.observability import logs
from verify_service.observability.logs import JsonFormatter, RedactingFilter, Redactor

e164 = st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)


@given(number=e164, prefix=st.sampled_from(["", "to ", "number=", "(", '"']))
def test_phone_numbers_keep_only_their_last_three_digits(number: str, prefix: str) -> None:
    out = Redactor().text(f"{prefix}{number} refused")
    assert number not in out
    assert number[1:] not in out
    assert f"{'*' * (len(number) - 4)}{number[-3:]}" in out


@given(code=st.from_regex(r"[0-9A-Z]{4,12}", fullmatch=True))
def test_codes_of_the_request_are_scrubbed_everywhere(code: str) -> None:
    with logs.request_context(request_id="r1"):
        logs.sensitive(code)
        record = logging.LogRecord(
            "x", logging.INFO, "f", 1, "sent %s", (f"Your code is {code}",), None
        )
        record.detail = {"nested": [f"code={code}"]}
        RedactingFilter(Redactor()).filter(record)
        line = JsonFormatter().format(record)
    assert code not in line
    assert json.loads(line)["request_id"] == "r1"


def test_configured_secrets_auth_headers_and_sensitive_fields() -> None:
    settings = settings_from_mapping(
        {
            "pepper": "pepper-value-0123456789",
            "metrics_token": "metrics-token-value",
            "providers": {
                "w": {"kind": "websms", "access_token": "tok-abcdef-123", "sender": "ACME"},
                "h": {
                    "kind": "http",
                    "url": "https://sms.example/send",
                    "body": {"to": "{to}", "text": "{text}"},
                    "headers": {"Authorization": "Bearer hdr-secret-999"},
                },
            },
            "services": [{"name": "s", "providers": ["w"]}],
        },
        environ={},
    )
    found = secrets_of(settings)
    assert {"pepper-value-0123456789", "tok-abcdef-123", "hdr-secret-999"} <= set(found)
    assert "ACME" not in found  # a sender name is no secret

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(found)))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(
            "upstream said %s (token tok-abcdef-123)",
            "Authorization: Basic dXNlcjpwYXNz",
            extra={"password": "hunter22", "client_id": "cid-1", "attempt": 2},
        )
        log.warning("bad %d format", "not a number")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "upstream said Authorization: Basic [redacted] (token [redacted])"
    assert first["password"] == "[redacted]"
    assert first["client_id"] == "[redacted]"
    assert first["attempt"] == 2
    assert "unformattable" in second["msg"]
