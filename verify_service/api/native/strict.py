"""JSON request bodies are held to their documented types, strictly.

Litestar converts a decoded body to its Struct with msgspec's lax rules (`strict=False`):
`"token_length": "6"` and `6.0` pass as the integer 6, and `"timeout": "30"` as 30. The
published schema says integer, and a client that sends a string there has a bug that a
lax server hides until another server refuses it. `strict_json` converts the same decoded
body once more with `strict=True` (JSON's own types only: no strings for numbers, no floats
for integers, no booleans for either) and refuses a mismatch as a 400 `invalid_request`
problem naming the field (api/native/problems.py).

The native API's caller dependencies (`bearer_caller`, the fraud API's operator) call it
once the key is known, so that a wrong key is 401 whatever the body holds, as before. Form
bodies (the Twilio dialect, where every value is a string by nature) are not JSON and are
left to their own rules."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, SerializationException, ValidationException
from litestar.types import RouteHandlerType

# "Expected `int | null`, got `str` - at `$.workflow[0].timeout`"
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<key>[^`]*)`)?$", re.DOTALL)
_NO_BODY = object()


def _json_body_type(handler: RouteHandlerType) -> Any:
    """The type of `handler`'s JSON `data` argument, or _NO_BODY (none, or not JSON)."""
    parameter = handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return _NO_BODY
    media_type = getattr(parameter.kwarg_definition, "media_type", None)
    return parameter.annotation if media_type in (None, RequestEncodingType.JSON) else _NO_BODY


def strict_error(exc: msgspec.ValidationError) -> ValidationException:
    """msgspec's error as the framework's: `extra` = [{key, message}] (never the value)."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any text
    key = match.group("key") or "data"
    return ValidationException(
        detail=match.group("message"),
        extra=[{"key": key, "message": match.group("message"), "source": "body"}],
    )


async def strict_json(request: Request[Any, Any, Any]) -> None:
    """Refuse a JSON body whose values have the wrong JSON types (a route without a JSON
    body: nothing to do). Raises ValidationException, or ClientException for a body that
    is no JSON at all."""
    body_type = _json_body_type(request.route_handler)
    if body_type is _NO_BODY:
        return
    try:
        decoded = await request.json()
    except SerializationException as exc:  # not JSON: the 400 the framework would answer
        raise ClientException(str(exc)) from None
    try:
        msgspec.convert(decoded, body_type, strict=True, str_keys=True)
    except msgspec.ValidationError as exc:
        raise strict_error(exc) from None
