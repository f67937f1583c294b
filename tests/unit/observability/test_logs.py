"""The redaction filter on its own: whatever a log call holds, secrets do not get out."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

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


# --- the fast paths keep the redaction of the plain algorithm -----------------------------


def reference_text(secrets: list[str], codes: set[str], value: str) -> str:
    """The filter's rules applied one after another, every pattern on every text."""
    for secret in sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True):
        value = value.replace(secret, logs.REDACTED)
    for code in sorted(codes, key=len, reverse=True):
        value = value.replace(code, logs.REDACTED)
    value = logs._AUTH.sub(lambda m: f"{m.group(1)} {logs.REDACTED}", value)
    value = logs._EMAIL.sub(logs.mask_email, value)
    return logs._PHONE.sub(logs.mask_phone, value)


pieces = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="abcXYZ/{}_-.:", max_size=12),  # route templates, words
    e164,
    st.from_regex(r"[0-9]{4,16}", fullmatch=True),
    st.sampled_from(["Bearer ", "basic  ", "alice@example.com", "@", " ", "\t", "١٢٣٤٥٦٧٨"]),
    # the scheme words in other cases (U+017F, the long s, is an s to IGNORECASE), runs of
    # 6 and 7 digits
    st.sampled_from(["bEaReR\u00a0x", "Ba\u017fic y", "BASIC", "1234567", "123456", "12345 67"]),
    st.sampled_from(["pepper-value-01", "SECRETWORD", "123456", "ABCD"]),
)


@given(
    parts=st.lists(pieces, max_size=6),
    codes=st.sets(st.sampled_from(["123456", "ABCD", "1234", "98765432"]), max_size=2),
)
def test_redaction_equals_every_rule_applied_in_turn(parts: list[str], codes: set[str]) -> None:
    secrets = ["pepper-value-01", "SECRETWORD", "short"]
    value = "".join(parts)
    with logs.request_context(request_id="r"):
        logs.sensitive(*codes)
        assert Redactor(secrets).text(value) == reference_text(secrets, codes, value)


@given(
    value=st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
    text=st.text(max_size=20),
)
def test_numbers_pass_and_every_text_field_is_redacted(value: object, text: str) -> None:
    redactor = Redactor(["pepper-value-01"])
    assert redactor.value("attempt", value) == value
    assert redactor.value("to", text) == redactor.text(text)
    assert redactor.value("detail", {"to": text, "code": text}) == {
        "to": redactor.text(text),
        "code": logs.REDACTED,
    }


@given(created=st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_timestamps_are_iso_8601_utc_with_milliseconds(created: float) -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    record.created = created
    formatter = JsonFormatter()
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert json.loads(formatter.format(record))["ts"] == expected
    assert json.loads(formatter.format(record))["ts"] == expected  # the cached second too


def test_extra_fields_keep_their_order_and_private_ones_stay_out() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    record.method, record.path, record._hidden, record.status = "POST", "/v1/x", "h", 201
    RedactingFilter(Redactor()).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert list(line)[4:] == ["method", "path", "status"]


@given(names=st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["msg", "_x", "name"]))))
def test_extra_fields_are_the_record_fields_that_logging_does_not_set(names: list[str]) -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    for name in names:
        record.__dict__[name] = 1
    plain = record.__dict__.keys() - logs._RECORD_FIELDS
    expected = [k for k in record.__dict__ if k in plain and not k.startswith("_")]
    assert logs._extras(record) == expected


def test_a_request_context_ends_with_its_request_and_restores_the_one_around_it() -> None:
    assert logs.bound("request_id") is None
    with logs.request_context(request_id="outer") as fields:
        logs.bind(service="s1")
        assert fields == {"request_id": "outer", "service": "s1"}
        logs.sensitive("424242")
        with logs.request_context(request_id="inner"):
            assert logs.bound("request_id") == "inner"
            assert logs.bound("service") is None
        assert logs.bound("request_id") == "outer"
        assert logs.bound("service") == "s1"
        record = logging.LogRecord("x", logging.INFO, "f", 1, "code 424242", (), None)
        RedactingFilter(Redactor()).filter(record)
        assert "424242" not in record.getMessage()
    assert logs.bound("request_id") is None
