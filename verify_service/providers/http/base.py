"""What every HTTP provider kind shares: one keep-alive `httpx.AsyncClient` per provider
instance, transport failures as retryable errors, and the common HTTP status classes."""

from __future__ import annotations

import email.utils
import functools
import ssl
import time
from http.cookiejar import Cookie, CookieJar
from typing import Any, ClassVar

import anyio
import httpx

from verify_service import __version__
from verify_service.providers.base import Provider, ProviderError, ProviderOptions


class HttpProvider(Provider):
    default_base_url: ClassVar[str] = ""

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        self._client: httpx.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        return (self.options.base_url or self.default_base_url).rstrip("/")

    def client(self) -> httpx.AsyncClient:
        # Created on first use, inside the running event loop, then reused (keep-alive).
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.options.timeout),
                verify=tls_context(),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": f"verify-service/{__version__}"},
                cookies=NoCookies(),
            )
        return self._client

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            # httpx's timeout bounds each read, so a server that dribbles its answer a byte
            # at a time never trips it: the whole exchange gets the same bound as well.
            with anyio.fail_after(self.options.timeout):
                return await self.client().request(method, url, **kwargs)
        except (httpx.TimeoutException, TimeoutError):
            raise ProviderError("timeout", retryable=True) from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"network error ({type(exc).__name__})", retryable=True) from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class NoCookies(CookieJar):
    """A provider client's cookie jar that keeps nothing. Provider APIs authenticate each
    request; a cookie one sets is not ours to send back on the next message (nor on
    another service's), and reading every response for cookies was ~15 % of a send's
    client-side CPU (docs/performance.md)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Cookie) -> None:
        return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for all providers: loading the CA bundle costs ~0.1 s per client,
    and a context is safe to share."""
    return httpx.create_ssl_context()


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, from either of its two forms (delta or HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# 401: the credentials are refused; 402 Payment Required: the account has no credit.
# Neither passes on a retry, nor for any other message: the account needs a person.
EXHAUSTED_STATUSES = frozenset({401, 402})


def status_error(response: httpx.Response, reason: str) -> ProviderError:
    """Classify by HTTP status alone: 429 (throttled) and 5xx may pass on a retry; 401 and
    402 say the account cannot send (exhausted); anything else will not pass."""
    status = response.status_code
    retryable = status == 429 or status >= 500
    return ProviderError(
        f"HTTP {status}: {reason}",
        retryable=retryable,
        retry_after=retry_after(response),
        exhausted=status in EXHAUSTED_STATUSES,
    )
