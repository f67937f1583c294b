"""What every HTTP provider kind shares: one keep-alive connection pool per provider
instance, transport failures as retryable errors, and the common HTTP status classes.

A request is built and its answer read by httpx (`httpx.Request`, `httpx.Response`: the
kinds' API, the encoding of JSON, forms and query strings, the decoding of compressed
answers) and carried by aiohttp, whose connection pool and C parser cost a third of
httpx's own transport per send (docs/performance.md, "Wave 4")."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ssl
import time
import urllib.request
from typing import Any, ClassVar

import aiohttp
import httpx
from yarl import URL

from verify_service import __version__
from verify_service.providers.base import Provider, ProviderError, ProviderOptions

MAX_CONNECTIONS = 100  # per provider instance, as httpx.Limits' default
# Parsed URLs kept per provider instance, of the addresses a kind marks `fixed_url` (from
# its config, never a number or a code in the path): httpx's URL parser is ~half of
# building a request (docs/performance.md, "Wave 5").
URLS_KEPT = 8
# The default headers merged with a kind's own, kept per provider instance for the first
# few sets of them: most kinds send the same headers with every message (a signature or a
# per-message token makes a set of its own, which is then merged per send).
HEADER_SETS_KEPT = 8
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept, as httpx's default


@functools.cache
def default_headers() -> httpx.Headers:
    """What httpx's client sends with every request (Accept, Accept-Encoding for the
    encodings httpx decodes, Connection), with our User-Agent: taken from an httpx client
    that never connects, so that the headers on the wire stay httpx's."""
    client = httpx.AsyncClient(
        headers={"User-Agent": f"verify-service/{__version__}"},
        transport=httpx.AsyncBaseTransport(),
        trust_env=False,
    )
    return client.headers


class HttpProvider(Provider):
    default_base_url: ClassVar[str] = ""

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._urls: dict[str, tuple[httpx.URL, URL]] = {}
        self._header_sets: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}

    @property
    def base_url(self) -> str:
        return (self.options.base_url or self.default_base_url).rstrip("/")

    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, then reused (keep-alive).
        if self._session is None:
            timeout = self.options.timeout
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, ssl=tls_context(), keepalive_timeout=KEEPALIVE_EXPIRY
                ),
                # httpx's Timeout(t): connect (with the wait for a pooled connection) and
                # each read
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
                ),
                # Provider APIs authenticate each request; a cookie one sets is not ours to
                # send back on the next message (nor on another service's).
                cookie_jar=aiohttp.DummyCookieJar(),
                # every header comes from the httpx request; aiohttp adds none of its own
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
                auto_decompress=False,  # httpx.Response decodes, as it did
                trust_env=False,  # proxies: _proxy_for, once per host, not per request
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        content: bytes | None = None,
        data: dict[str, str] | None = None,
        json: Any = None,
        fixed_url: bool = False,
    ) -> httpx.Response:
        """Send one request; the answer, whatever its status, read whole. `fixed_url`: the
        address is the same for every message (configured), so its parse is kept.

        Raises ProviderError (retryable) for a timeout (the connection, any read, or the
        whole exchange past `timeout` seconds) and for anything that stops the exchange
        (refused, reset, not HTTP): the router then tries again or fails over."""
        merged = self._merged_headers(headers)
        kept = self._urls.get(url) if fixed_url else None
        if kept is None:
            parsed = httpx.URL(url)  # immutable: shared by every request to it
            # the address aiohttp is given, as httpx encoded it; with `params` it is the
            # request's own (the query string is the message's)
            kept = parsed, URL(str(parsed), encoded=True)
            if fixed_url and len(self._urls) < URLS_KEPT:
                self._urls[url] = kept
        parsed, target = kept
        request: httpx.Request | None = None
        wire = None
        if content and params is None and data is None and json is None:
            wire = _bytes_body_headers(merged, parsed, method, len(content))
        if wire is None:
            request = httpx.Request(
                method, parsed, params=params, headers=merged, content=content, data=data, json=json
            )
            if params is not None:
                target = URL(str(request.url), encoded=True)
            # names as written, in httpx's order; aiohttp writes values as UTF-8
            wire = [(k.decode(), v.decode()) for k, v in request.headers.raw]
            content = request.content or None
        try:
            # aiohttp's read timeout bounds each read, so a server that dribbles its answer
            # a byte at a time never trips it: the whole exchange gets the same bound.
            async with asyncio.timeout(self.options.timeout):
                async with self.session().request(
                    method,
                    target,
                    headers=wire,
                    data=content,
                    allow_redirects=False,
                    proxy=self._proxy_for(parsed),
                ) as answer:
                    body = await answer.read()
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            raise ProviderError("timeout", retryable=True) from None
        except (aiohttp.ClientError, ValueError) as exc:  # ValueError: a header aiohttp refuses
            raise ProviderError(f"network error ({type(exc).__name__})", retryable=True) from None
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            content=body,
            request=request,
            extensions={"reason_phrase": (answer.reason or "").encode()},
        )

    def _merged_headers(self, headers: dict[str, str] | None) -> httpx.Headers:
        """httpx's default headers updated with `headers`. Shared by the requests that send
        the same set: `httpx.Request` copies the headers it is given, nothing changes
        these."""
        key = tuple(headers.items()) if headers else ()
        merged = self._header_sets.get(key)
        if merged is None:
            merged = httpx.Headers(default_headers())
            if headers:
                merged.update(headers)
            if len(self._header_sets) < HEADER_SETS_KEPT:
                self._header_sets[key] = merged
        return merged

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy the environment names for this URL (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
        NO_PROXY, as httpx honoured them), looked up once per scheme and host."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(url.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(url.host):  # NO_PROXY
                proxy = None
            self._proxies[key] = proxy or None
        return self._proxies[key]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# Methods whose request httpx gives a Content-Length even without a body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _bytes_body_headers(
    merged: httpx.Headers, url: httpx.URL, method: str, length: int
) -> list[tuple[str, str]] | None:
    """The header lines `httpx.Request(method, url, headers=merged, content=<length bytes>)`
    puts on the wire, without building the request: Host first, the headers as given,
    Content-Length last. None where httpx would do more than that (a Host, Content-Length
    or Transfer-Encoding of the caller's, no host in the URL, a method it treats apart):
    the caller then builds the request. The same lines: tests/unit/providers/kinds/
    test_wire.py."""
    if method not in _BODY_METHODS or not url.host:
        return None
    if "host" in merged or "content-length" in merged or "transfer-encoding" in merged:
        return None
    return [
        ("Host", url.netloc.decode()),
        *[(k.decode(), v.decode()) for k, v in merged.raw],
        ("Content-Length", str(length)),
    ]


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
