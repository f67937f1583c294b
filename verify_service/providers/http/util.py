"""Small helpers the HTTP provider kinds share: number formats, reading JSON answers and
callbacks, keeping the message text (it holds the code) out of error reasons, and the
option types of values that travel in HTTP headers (checked when the config loads)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, SecretStr

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


# RFC 9110 §5.1 (a name is a token) and §5.5 (a value is visible characters, with spaces
# and tabs only between them), narrowed to ASCII: httpx encodes header values as ASCII,
# so anything else would fail only when the first code is sent.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"([\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?)?")


# The message's framing (RFC 9112, section 6): the client writes these from the body it
# sends. A configured one disagrees with the body: `Content-Length: 3` sent three bytes of
# the JSON body and left the rest on the connection, where the provider reads it as the
# start of the next request.
_FRAMING = frozenset({"content-length", "transfer-encoding"})


def header_name(name: str) -> str:
    """`name` if it is an HTTP header name (RFC 9110 token) a configuration may set;
    ValueError otherwise (not a token, or a framing header the client writes itself)."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(
            "not a valid HTTP header name: ASCII letters, digits and !#$%&'*+-.^_`|~ only, "
            "no spaces or colons (RFC 9110, section 5.1)"
        )
    if name.lower() in _FRAMING:
        raise ValueError(
            f"{name} is an HTTP header the client writes from the body it sends "
            "(RFC 9112, section 6); a configured one would cut or garble the body: remove it"
        )
    return name


def header_value(value: str) -> str:
    """`value` if an HTTP header can carry it as written; ValueError saying what is wrong
    with it otherwise (never the value itself: it is usually a credential)."""
    if _FIELD_VALUE.fullmatch(value):
        return value
    if any(c in "\r\n" for c in value):
        problem = "a line break (CR or LF; a value read from a file keeps its newline)"
    elif not value.isascii():
        problem = "a non-ASCII character"
    elif value != value.strip(" \t"):
        problem = "leading or trailing whitespace"
    else:
        problem = "a control character"
    raise ValueError(
        f"unfit for an HTTP header: it holds {problem}; header values are printable "
        "ASCII (RFC 9110, section 5.5)"
    )


def _secret_header_value(secret: SecretStr) -> SecretStr:
    header_value(secret.get_secret_value())
    return secret


HeaderName = Annotated[str, AfterValidator(header_name)]
HeaderValue = Annotated[str, AfterValidator(header_value)]
# A credential sent in a header ("Authorization: Bearer <token>", an API key header).
HeaderSecret = Annotated[SecretStr, AfterValidator(_secret_header_value)]
