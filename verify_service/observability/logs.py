"""Structured logs: one JSON object per line, and ONE redaction filter in front of them.

Our own ~100-line formatter rather than a library (python-json-logger would do the JSON,
structlog the context): the redaction has to run on the final text of every record,
including records from uvicorn and third-party libraries, so it is the formatter's job
anyway, and the rest is `json.dumps` of the record.

What the filter removes (docs/architecture.md §3: no plaintext code, key or secret in logs):
- codes handled by the current request (registered with `sensitive()`, a context variable),
- secrets known at start-up: provider credentials, the pepper, callback and metrics tokens,
- anything after `Bearer ` / `Basic `, and values of sensitive field names,
- phone numbers: every `+` and 7-15 digits keeps its last 3 digits only;
- email addresses: the first character of the mailbox and the top-level domain only
  (`alice@example.com` -> `a****@*******.com`).

The `console` provider prints each SMS with `print` to stderr, not through logging: it is
exempt by design (it exists to show the code during local development)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

# Extras whose values are never logged, whatever they hold.
SENSITIVE_FIELDS = frozenset(
    {
        "code",
        "token",
        "text",
        "message_text",
        "password",
        "secret",
        "authorization",
        "api_key",
        "access_token",
        "client_id",
        "service_key",
        "pepper",
    }
)
# Fields of a LogRecord that are not user extras.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's ANSI-coloured copy of msg
)

_PHONE = re.compile(r"(?<![\w+])(\+?)(\d{4,12})(\d{3})(?!\d)")
_EMAIL = re.compile(
    r"([\w.!#$%&'*+/=?^`{|}~-])([\w.!#$%&'*+/=?^`{|}~-]*)@([\w.-]+)(\.[A-Za-z]{2,63})\b"
)
_AUTH = re.compile(r"\b(Bearer|Basic)\s+[^\s\"',;]+", re.IGNORECASE)
# A text without a digit, an "@" or whitespace holds no phone number (digits), no email
# address ("@") and no credential after Bearer/Basic (whitespace): the three patterns
# above cannot match it, only the secrets and codes (plain substrings) can be in it.
_PATTERN_FREE = re.compile(r"[^\d@\s]*").fullmatch
# What _AUTH and _PHONE cannot match without: the scheme's word (with _AUTH's own case
# rule) or a run of 7 digits (_PHONE's shortest number). One search instead of two subs
# for texts with a digit, such as every request line ("POST /v1/verifications 201").
_AUTH_OR_PHONE = re.compile(r"Bearer|Basic|\d{7}", re.IGNORECASE).search

# Per request (or task): codes that must not appear, and fields added to every line.
_codes: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("codes", default=None)
_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_fields", default=None
)


def sensitive(*values: str) -> None:
    """Register codes (or other per-request secrets) that the filter must scrub."""
    codes = _codes.get()
    if codes is None:
        codes = set()
        _codes.set(codes)
    # Below 4 characters nothing is a valid code (a stray "1" typed into a check is no
    # secret), and scrubbing it would mangle every number in the request's log lines.
    for value in values:
        if len(value) >= 4:
            codes.add(value)


def bind(**fields: Any) -> None:
    """Add fields (request id, service) to every log line of the current request."""
    current = _fields.get()
    if current is None:
        current = {}
        _fields.set(current)
    current.update(fields)


def bound(name: str) -> Any:
    current = _fields.get()
    return None if current is None else current.get(name)


class request_context:
    """A fresh context for one request: its own codes and fields, gone when it ends.
    `with request_context(request_id=...) as fields:` (a class rather than a generator
    context manager: one per request, ~5 Python calls fewer)."""

    __slots__ = ("_codes_token", "_fields", "_fields_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> dict[str, Any]:
        self._fields_token = _fields.set(self._fields)
        self._codes_token = _codes.set(set())
        return self._fields

    def __exit__(self, *_: object) -> None:
        _fields.reset(self._fields_token)
        _codes.reset(self._codes_token)


def mask_phone(match: re.Match[str]) -> str:
    return match.group(1) + "*" * len(match.group(2)) + match.group(3)


def mask_email(match: re.Match[str]) -> str:
    first, rest, domain, tld = match.groups()
    return f"{first}{'*' * len(rest)}@{'*' * len(domain)}{tld}"


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short strings would redact half the log; real secrets are long.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        codes = _codes.get()
        if codes:
            # the longest first: a code that contains another is scrubbed whole
            for code in sorted(codes, key=len, reverse=True) if len(codes) > 1 else codes:
                if code in value:
                    value = value.replace(code, REDACTED)
        if _PATTERN_FREE(value):
            return value
        if "@" not in value and not _AUTH_OR_PHONE(value):
            return value
        value = _AUTH.sub(_mask_auth, value)
        if "@" in value:
            value = _EMAIL.sub(mask_email, value)
        return _PHONE.sub(mask_phone, value)

    def value(self, key: str, value: Any) -> Any:
        if key.lower() in SENSITIVE_FIELDS:
            return REDACTED
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value  # numbers say nothing: a count, a status, a duration
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(key, v) for v in value]
        if isinstance(value, bool | int | float):
            return value
        return self.text(str(value))


def _mask_auth(match: re.Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


def _extras(record: logging.LogRecord) -> list[str]:
    """The names of a record's extra fields (what `extra=` added), in the order given."""
    found = getattr(record, "_extras", None)
    if found is None:
        found = [k for k in record.__dict__ if k not in _RECORD_FIELDS and k[:1] != "_"]
    return found


class RedactingFilter(logging.Filter):
    """Rewrites each record in place before any handler formats it: the message (with its
    arguments merged), the exception text and every extra field."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        r = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not turn a log call into a crash
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = r.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r.text(record.exc_text)
        # The traceback's own objects may repeat secrets; the scrubbed text replaces them.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = r.text(record.stack_info)
        extras = _extras(record)
        fields = record.__dict__
        for key in extras:
            fields[key] = r.value(key, fields[key])
        record._extras = extras
        record._redacted = True
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        # one encoder for every line (json.dumps with options builds one per call)
        self._encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        """ISO 8601 in UTC with milliseconds ("2026-05-04T12:00:00.123+00:00"), the date
        and time formatted once per second."""
        second = int(created)
        micro = round((created - second) * 1_000_000)  # as datetime rounds a timestamp
        if micro >= 1_000_000:
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{micro // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = _fields.get()
        if context:
            line.update(context)
        fields = record.__dict__
        for key in _extras(record):
            line[key] = fields[key]
        if record.exc_text:
            line["exc"] = record.exc_text
        elif record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = record.stack_info
        return self._encode(line)


# Loggers that keep their own handlers otherwise; routed to the root handler instead.
_FRAMEWORK_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar")


def configure_logging(
    *, level: str = "INFO", secrets: Iterable[str] = (), stream: Any = None
) -> logging.Handler:
    """One handler on the root logger, with the redaction filter on the handler itself so
    that every record from any logger passes it. Returns the handler (tests capture it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_verify_service", False):
            root.removeHandler(old)
    handler._verify_service = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # Nothing of ours prints where a line was logged from, nor thread or process: don't
    # have every record look them up (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root.setLevel(level.upper())
    for name in _FRAMEWORK_LOGGERS:
        framework = logging.getLogger(name)
        framework.handlers.clear()
        framework.propagate = True
    # httpx logs every provider request at INFO with its full URL, which for some providers
    # carries a credential in the query string; our router logs each send attempt already.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's `log_config`: keep its loggers, give them no handlers of their own, so they
    propagate to the root handler (JSON + redaction). Applied again in every worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
