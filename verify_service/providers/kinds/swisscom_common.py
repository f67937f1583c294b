"""What both Swisscom kinds share (seed 000): the headers of every call, one fresh
`SCS-Request-ID` per call (logged, so that Swisscom support can find the request), the
options, and the mapping of Swisscom's error body onto our error classes."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, ClassVar

import httpx
from pydantic import Field

from verify_service.domain import json_depth
from verify_service.providers.base import ProviderError, ProviderOptions
from verify_service.providers.http.base import HttpProvider, retry_after
from verify_service.providers.http.util import HeaderSecret

log = logging.getLogger("verify_service.providers.swisscom")

DEFAULT_BASE_URL = "https://api.swisscom.com"

# Words in a 400's detail that say the number itself was refused (Swisscom's wording is
# undocumented; a 400 without such a word is treated as our request being wrong).
_NUMBER_WORDS = ("msisdn", "number", "recipient", "phone", "destination")
# The detail ends up in logs and in the verification's send record: a detail that quotes our
# request could carry the code or the number, so words with a digit and 4+ characters go.
_SCRUB = re.compile(r"\b(?=\w*\d)\w{4,}\b")
_TO_FIELD = re.compile(r"""['"`]to['"`]|\bto\s*[:=]""", re.IGNORECASE)


class SwisscomOptions(ProviderOptions):
    client_id: HeaderSecret = Field(min_length=1)
    sender: str | None = Field(default=None, min_length=1, max_length=16)


class SwisscomError(ProviderError):
    """A ProviderError that keeps Swisscom's own error code (e.g. EXPIRED_QUOTA)."""

    def __init__(self, reason: str, *, code: str, status: int, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.code = code
        self.status = status


class SwisscomHttp(HttpProvider):
    """Base of the Swisscom kinds: `call()` sends one request with Swisscom's headers and
    returns the 2xx response, or raises the classified error."""

    default_base_url: ClassVar[str] = DEFAULT_BASE_URL

    @property
    def swisscom(self) -> SwisscomOptions:
        assert isinstance(self.options, SwisscomOptions)
        return self.options

    def headers(self, request_id: str) -> dict[str, str]:
        return {
            "client_id": self.swisscom.client_id.get_secret_value(),
            "SCS-Version": "2",
            "Accept": "application/json",
            "SCS-Request-ID": request_id,
        }

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        also_ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """`also_ok`: error statuses that mean an answer to this call (404 = no such token)."""
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        extra: dict[str, Any] = {"provider": self.name, "scs_request_id": request_id}
        try:
            response = await self.request(
                method, self.base_url + path, headers=self.headers(request_id), json=body
            )
        except ProviderError as exc:
            log.warning(
                "swisscom %s %s failed: %s", method, path.split("/")[2], exc.reason, extra=extra
            )
            raise
        extra["status"] = response.status_code
        extra["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        # The path may hold a number or a token: log only which API was called.
        log.info(
            "swisscom %s %s -> %d", method, path.split("/")[2], response.status_code, extra=extra
        )
        if response.is_success or response.status_code in also_ok:
            return response
        raise self.error(response, request_id)

    def error(self, response: httpx.Response, request_id: str) -> SwisscomError:
        status = response.status_code
        code, detail = _error_body(response)
        reason = f"HTTP {status} {code}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            log.error(
                "configuration error: Swisscom refused the credentials of provider %r "
                "(%s %s); check its client_id and that the app is subscribed to this API",
                self.name,
                status,
                code,
                extra={"provider": self.name, "scs_request_id": request_id},
            )
            return SwisscomError(reason, code=code, status=status, retryable=False, exhausted=True)
        if status == 429:
            # EXPIRED_QUOTA: the quota of the app is used up, not a hiccup. Fail over now and
            # open the breaker; a probe after its cool-down finds out when it is renewed.
            return SwisscomError(
                reason,
                code=code,
                status=status,
                retryable=False,
                exhausted=True,
                retry_after=retry_after(response),
            )
        if status >= 500:
            return SwisscomError(reason, code=code, status=status, retryable=True)
        if status == 400 and _mentions_number(detail):
            return SwisscomError(
                reason, code=code, status=status, retryable=False, recipient_invalid=True
            )
        if status in (404, 405, 406):
            log.error(
                "configuration error: Swisscom answered %s %s to provider %r; check base_url",
                status,
                code,
                self.name,
                extra={"provider": self.name, "scs_request_id": request_id},
            )
        return SwisscomError(reason, code=code, status=status, retryable=False)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(code, detail) of Swisscom's `{"status","code","message","detail"}`, tolerating
    bodies from proxies in front of it that are not of that shape."""
    try:
        body = json_depth.loads(response.content)
    except ValueError:
        return "UNKNOWN", ""
    if not isinstance(body, dict):
        return "UNKNOWN", ""
    code = body.get("code")
    # `detail` is the specific part; `message` is the same boilerplate for every error.
    detail = _SCRUB.sub("…", str(body.get("detail") or "")[:200])
    return (str(code) if code else "UNKNOWN"), detail


def _mentions_number(detail: str) -> bool:
    # The field name `to` counts only when quoted or followed by ':'/'=' ("due to" is prose).
    if _TO_FIELD.search(detail):
        return True
    words = "".join(c if c.isalnum() else " " for c in detail.lower()).split()
    return any(word in _NUMBER_WORDS for word in words)


def message_id_from(response_headers: httpx.Headers | dict[str, str]) -> str | None:
    """The message id of a 201: the last segment of `Location` (a URL or a path such as
    /messaging/sms/<id>), else the `SCS-MessageId` header."""
    location = response_headers.get("location") or response_headers.get("Location")
    if location:
        last = location.rstrip("/").rsplit("/", 1)[-1]
        if last:
            return last
    value = response_headers.get("scs-messageid") or response_headers.get("SCS-MessageId")
    return value or None
