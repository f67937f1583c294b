"""JSON from the network, with a nesting limit: every parser of a body that someone else
wrote (requests, delivery reports, provider answers) goes through `loads` or `check`.

Python's and msgspec's decoders recurse once per level and give up with a RecursionError
(not a ValueError) somewhere near a thousand levels: code that catches ValueError for bad
JSON then answers 500 to `[` x 50,000. No message we read nests deeper than a few levels,
so MAX_DEPTH refuses anything deeper as a ValueError, before the decoder sees it."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside one another; our deepest real message has 5

# A complete JSON string (brackets inside strings do not nest anything).
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OTHER = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class JsonDepthError(ValueError):
    """A JSON text nested deeper than MAX_DEPTH."""


def depth(data: bytes) -> int:
    """How deeply arrays and objects nest in `data` (an upper bound for invalid JSON).
    Linear in the size; `check` skips it for bodies with fewer brackets than the limit."""
    if b"[" not in data and b"{" not in data:
        return 0
    brackets = _STRING.sub(b"", data).translate(None, _OTHER)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def check(data: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonDepthError if `data` nests deeper than `max_depth`."""
    raw = data.encode() if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth(raw) > max_depth:
        raise JsonDepthError(f"the JSON is nested more than {max_depth} levels deep")


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` that raises ValueError (JsonDepthError, or the decoder's own) for
    anything it cannot take, never RecursionError; bytes in any UTF encoding JSON allows."""
    check(data, max_depth)
    try:
        return json.loads(data)
    except RecursionError:  # unreachable below MAX_DEPTH; kept as a second fence
        raise JsonDepthError("the JSON is nested too deeply") from None
