"""Small helpers the HTTP provider kinds share: number formats, reading JSON answers and
callbacks, and keeping the message text (it holds the code) out of error reasons."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from verify_service.domain import json_depth

_WORD = re.compile(r"\w{4,}")
_DIGITS = re.compile(r"\d{4,}")  # a numeric code glued to letters ("G482913") still counts
MAX_DETAIL = 100


def digits(e164: str) -> str:
    """ "+41791234567" -> "41791234567", the form several providers want."""
    return e164.removeprefix("+")


def json_answer(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it has none (empty, HTML error page, garbage, or
    nested deeper than json_depth allows)."""
    try:
        return json_depth.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def safe_detail(detail: object, text: str) -> str:
    """A provider's own words for an error, fit for a reason that users and logs see.

    Providers may echo the request in their messages. A code has at least four characters,
    so dropping any detail that contains a 4+ character word of the message text keeps the
    code out, at the price of losing a harmless detail now and then."""
    raw = str(detail)
    words = set(_WORD.findall(text)) | set(_DIGITS.findall(text))
    # Judged before shortening: a cut could leave part of a code that no longer matches.
    if any(word in raw for word in words):
        return "(detail withheld: it repeats the message)"
    return " ".join(raw.split())[:MAX_DETAIL]


def dotted(data: Any, path: str) -> Any:
    """The value at a dotted path ("results.0.id"); None when any step is missing."""
    for step in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(step)
        elif isinstance(data, list) and step.lstrip("-").isdigit():
            index = int(step)
            data = data[index] if -len(data) <= index < len(data) else None
        else:
            return None
        if data is None:
            return None
    return data


def json_callback(body: bytes) -> Any:
    """A callback body as JSON; ValueError (as parse_reports promises) when it is not."""
    try:
        return json_depth.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"callback body is not JSON: {exc}") from None
