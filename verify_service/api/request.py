"""The request class of the app: JSON bodies that the framework would turn into a 500
(nesting deeper than the decoder's recursion limit, bytes that are not UTF-8) become a
400, an empty body says what is missing, and a body declared as something other than JSON
is a 415 instead of being parsed as JSON anyway."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from verify_service.domain import json_depth


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class ApiRequest(Request[Any, Any, Any]):
    __slots__ = ("_json_taken",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._json_taken = False

    async def json(self) -> Any:
        if self._json_taken:  # the body's JSON, decoded and held by the framework
            return await super().json()
        decoded = await self._checked_json()
        self._json_taken = True
        return decoded

    async def _checked_json(self) -> Any:
        content_type = self.headers.get("content-type")
        # No Content-Type at all is read as JSON: some HTTP clients omit it for raw bodies.
        if content_type and not _is_json(content_type):
            raise HTTPException(
                status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail="send the body as application/json",
            )
        body = await self.body()
        if not body.strip():
            raise ClientException("the request body is empty: send a JSON object")
        try:
            json_depth.check(body)
        except json_depth.JsonDepthError:
            raise ClientException("the JSON body is nested too deeply") from None
        try:
            return await super().json()
        except RecursionError:
            raise ClientException("the JSON body is nested too deeply") from None
        except UnicodeDecodeError:
            raise ClientException("the JSON body is not valid UTF-8") from None
