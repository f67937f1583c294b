"""Structured logs: one JSON object per line, and ONE redaction filter in front of them.

Our own ~100-line formatter rather than a library (python-json-logger would do the JSON,
structlog the context): the redaction has to run on the final text of every record,
including records from uvicorn and third-party libraries, so it is the formatter's job
anyway, and the rest is `json.dumps` of the record.

What the filter removes (docs/architecture.md §3: no plaintext code, key or secret in logs):
- codes handled by the current request (registered with `sensitive()`, a context variable),
- secrets known at start-up: provider credentials, the pepper, callback and metrics tokens,
- anything after `Bearer ` / `Basic `, and values of sensitive field names,
- phone numbers: every `+` and 7-15 digits keeps its last 3 digits only.

The `console` provider prints each SMS with `print` to stderr, not through logging: it is
exempt by design (it exists to show the code during local development)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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
_AUTH = re.compile(r"\b(Bearer|Basic)\s+[^\s\"',;]+", re.IGNORECASE)

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
    codes.update(v for v in values if len(v) >= 4)


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


@contextmanager
def request_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A fresh context for one request: its own codes and fields, gone when it ends."""
    fields_token = _fields.set(dict(fields))
    codes_token = _codes.set(set())
    try:
        yield _fields.get() or {}
    finally:
        _fields.reset(fields_token)
        _codes.reset(codes_token)


def mask_phone(match: re.Match[str]) -> str:
    return match.group(1) + "*" * len(match.group(2)) + match.group(3)


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
            for code in sorted(codes, key=len, reverse=True):
                if code in value:
                    value = value.replace(code, REDACTED)
        value = _AUTH.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        return _PHONE.sub(mask_phone, value)

    def value(self, key: str, value: Any) -> Any:
        if key.lower() in SENSITIVE_FIELDS:
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(key, v) for v in value]
        if isinstance(value, bool | int | float) or value is None:
            return value
        return self.text(str(value))


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
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                setattr(record, key, r.value(key, value))
        record._redacted = True
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = _fields.get()
        if context:
            line.update(context)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_text:
            line["exc"] = record.exc_text
        elif record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


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
