"""The `Accept-Language` header (RFC 9110 §12.5.4) as an ordered list of language tags."""

from __future__ import annotations

import re

MAX_HEADER_LENGTH = 1024  # longer headers are cut: a template choice is not worth more work
MAX_TAGS = 20

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


def parse_accept_language(header: str | None) -> list[str]:
    """Tags by descending q (ties keep the header's order). `q=0` means "not this one" and
    is dropped, so is `*` (any language = the default template) and anything malformed."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:MAX_HEADER_LENGTH].split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        if not _TAG.match(tag):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.match(value) else -1.0
        if q > 0:
            weighted.append((-q, index, tag))
    weighted.sort()
    return [tag for _, _, tag in weighted[:MAX_TAGS]]
