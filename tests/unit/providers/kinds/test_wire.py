"""What goes on the wire to a provider is what httpx's own client sent: the request line,
every header (names as written, in order) and the body, for each HTTP kind and body form.

The provider call is built by httpx and carried by aiohttp (providers/http/base.py); the
reference here is the client the kinds used before, httpx.AsyncClient with its default
transport, configured as the service configured it. Each kind sends the same message
through both to its documented loopback fake, which records the requests as they arrive."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.certs import make_certificates
from tests.support.fake_channels import WebsmsMessaging, websms_whatsapp_config
from tests.support.fake_http import FakeServer, Handler, Recorded
from tests.unit.providers.kinds.conftest import MESSAGE, MakeProvider
from tests.unit.providers.kinds.fakes import KINDS, SECRET, endpoint_api, http_config
from verify_service import __version__
from verify_service.providers.base import (
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderOptions,
    SendResult,
)
from verify_service.providers.http import base as http_base
from verify_service.providers.http.base import HEADER_SETS_KEPT, HttpProvider

WHATSAPP = OutgoingMessage("+41791234567", "Your code is 482913", "ver_abc.2", "whatsapp", "482913")


def _same(api: Handler) -> Callable[[], Handler]:
    return lambda: api


CASES: dict[str, tuple[Callable[[], Handler], Callable[[str], Mapping[str, Any]], OutgoingMessage]]
CASES = {kind: (_same(api), config, MESSAGE) for kind, (api, config) in KINDS.items()}
CASES |= {
    "http form, basic auth": (
        lambda: endpoint_api,
        lambda url: http_config(
            url, body_format="form", auth={"type": "basic", "username": "u", "password": "p"}
        ),
        MESSAGE,
    ),
    "http GET, query string": (
        lambda: endpoint_api,
        lambda url: http_config(url, method="get", auth={"type": "bearer", "token": "tok"}),
        MESSAGE,
    ),
    "http signed": (
        lambda: endpoint_api,
        lambda url: http_config(url, signing_secret=SECRET, headers={"X-Tenant": "t-1"}),
        MESSAGE,
    ),
    # an OAuth token as a form, then the message as JSON
    "websms whatsapp": (WebsmsMessaging, websms_whatsapp_config, WHATSAPP),
}


async def via_httpx(self: HttpProvider, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The provider call as it was: httpx's client and transport, the service's settings."""
    kwargs.pop("fixed_url", None)  # ours: whether the URL's parse may be kept
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(self.options.timeout),
        headers={"User-Agent": f"verify-service/{__version__}"},
    ) as client:
        return await client.request(method, url, **kwargs)


def on_the_wire(request: Recorded) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    headers = [
        (name, value)
        for name, value in request.headers.raw
        # a signature covers the send's time: equal bodies, different seconds
        if name.lower() not in (b"webhook-timestamp", b"webhook-signature")
    ]
    return request.method, request.target, headers, request.body


async def send_both(
    case: str,
    messages: list[OutgoingMessage],
    start_fake: Callable[[Handler], FakeServer],
    make_provider: MakeProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Provider, FakeServer, FakeServer, list[SendResult], list[SendResult]]:
    """`messages` sent by one provider of `case` (ours) and by one calling httpx's own
    client (the reference), each to its own fake: (our provider, our fake, the reference's
    fake, our results, the reference's)."""
    api, config, _ = CASES[case]
    ours, reference = start_fake(api()), start_fake(api())
    provider = make_provider(config(ours.url))
    sent = [await provider.send(message) for message in messages]
    with monkeypatch.context() as patch:
        patch.setattr(HttpProvider, "request", via_httpx)
        theirs = make_provider(config(reference.url))
        expected = [await theirs.send(message) for message in messages]
    return provider, ours, reference, sent, expected


@pytest.mark.parametrize("case", sorted(CASES))
async def test_each_send_puts_the_same_bytes_on_the_wire_as_httpx(
    case: str,
    start_fake: Callable[[Handler], FakeServer],
    make_provider: MakeProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three sends by one provider: what it keeps between sends (the parse of a configured
    # address) never carries one message's number, text or query string into another's.
    message = CASES[case][2]
    other = dataclasses.replace(message, to="+41797654321", text="Your code is 135790")
    provider, ours, reference, sent, expected = await send_both(
        case, [message, other, message], start_fake, make_provider, monkeypatch
    )
    assert sent == expected
    assert len(ours.requests) == len(reference.requests) >= 3
    for got, want in zip(ours.requests, reference.requests, strict=True):
        assert on_the_wire(got)[:2] == on_the_wire(want)[:2]
        # the Host header names each fake's own port
        got_headers = [h for h in on_the_wire(got)[2] if h[0].lower() != b"host"]
        want_headers = [h for h in on_the_wire(want)[2] if h[0].lower() != b"host"]
        assert got_headers == want_headers
        assert got.headers["host"] == ours.url.removeprefix("http://")
        assert got.header_names[0] == want.header_names[0] == "host"
        assert got.body == want.body
    assert b"41797654321" in ours.requests[-2].body + ours.requests[-2].target.encode()
    # only a configured address is kept parsed (a kind's path may hold a number or a code)
    assert isinstance(provider, HttpProvider)
    kept = list(provider._urls)
    assert kept == ([CASES[case][1](ours.url)["url"]] if case.startswith("http") else [])
    # merged header sets are kept per provider, a bounded few (a signature makes its own)
    assert 1 <= len(provider._header_sets) <= HEADER_SETS_KEPT


@pytest.fixture
def tls_fake(
    start_fake: Callable[[Handler], FakeServer], tmp_path: Path
) -> Iterator[tuple[FakeServer, ssl.SSLContext]]:
    """The generic kind's fake over TLS, with a certificate from a throwaway CA; and a
    client context that trusts that CA."""
    make_certificates(tmp_path)
    fake = FakeServer(endpoint_api)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    fake._httpd.socket = server_side.wrap_socket(fake._httpd.socket, server_side=True)
    fake.start()
    trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    yield fake, trusting
    fake.stop()


async def test_a_provider_certificate_is_verified(
    tls_fake: tuple[FakeServer, ssl.SSLContext],
    make_provider: MakeProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, trusting = tls_fake
    url = fake.url.replace("http://", "https://")
    # not signed by a CA the service trusts: refused, a retryable failure (failover)
    with pytest.raises(ProviderError) as refused:
        await make_provider(http_config(url)).send(MESSAGE)
    assert refused.value.retryable
    assert refused.value.reason.startswith("network error")
    assert fake.requests == []
    # once the CA is trusted the same provider answers, over TLS
    monkeypatch.setattr(http_base, "tls_context", lambda: trusting)
    assert (await make_provider(http_config(url)).send(MESSAGE)).message_id == "m-42"
    assert fake.last.path == "/sms"


async def test_the_proxy_the_environment_names_carries_the_request(
    start_fake: Callable[[Handler], FakeServer],
    make_provider: MakeProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as httpx's client did (trust_env): HTTP_PROXY for http:// providers, NO_PROXY honoured
    proxy = start_fake(endpoint_api)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sent = await make_provider(http_config("http://sms.provider.invalid")).send(MESSAGE)
    assert sent.message_id == "m-42"
    assert proxy.last.target == "http://sms.provider.invalid/sms"  # absolute form, via proxy
    assert proxy.last.headers["host"] == "sms.provider.invalid"
    direct = start_fake(endpoint_api)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert (await make_provider(http_config(direct.url)).send(MESSAGE)).message_id == "m-42"
    assert len(proxy.requests) == 1
    assert direct.last.target == "/sms"


# Requests that lack one of the headers aiohttp adds on its own (Accept, Accept-Encoding,
# User-Agent, Content-Type: the session's `skip_auto_headers` names all four, since every
# header comes from the httpx request), as a kind could send them: aiohttp adds none.
BARE_REQUESTS: dict[str, dict[str, Any]] = {
    "bytes, no content type": {"method": "POST", "content": b'{"to":"+41791234567"}'},
    "bytes, a content type": {
        "method": "POST",
        "content": b"to=%2B41791234567",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "POST, no body": {"method": "POST"},
    "PUT, empty body": {"method": "PUT", "content": b""},
    "GET with a query": {"method": "GET", "params": {"to": "+41791234567"}},
    "form": {"method": "POST", "data": {"to": "+41791234567"}},
    "json": {"method": "PATCH", "json": {"to": "+41791234567"}},
    "bytes, a caller's Host": {
        "method": "POST",
        "content": b"x",
        "headers": {"Host": "sms.example.com"},
    },
}


class BareProvider(HttpProvider):
    kind = "bare"

    async def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError  # requests only


@pytest.mark.parametrize("case", sorted(BARE_REQUESTS))
async def test_aiohttp_adds_no_header_of_its_own(
    case: str, start_fake: Callable[[Handler], FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs = BARE_REQUESTS[case]
    ours, reference = start_fake(endpoint_api), start_fake(endpoint_api)
    provider = BareProvider("bare", ProviderOptions(kind="bare"))
    try:
        # the second after the first, with a longer body: its own length
        longer = {"content": kwargs["content"] + b"&more"} if "content" in kwargs else {}
        for sent in (kwargs, {**kwargs, **longer}):
            await provider.request(url=f"{ours.url}/sms", fixed_url=True, **sent)
            await via_httpx(provider, url=f"{reference.url}/sms", **sent)
    finally:
        await provider.aclose()
    for got, want in zip(ours.requests, reference.requests, strict=True):
        got_method, got_target, got_headers, got_body = on_the_wire(got)
        want_method, want_target, want_headers, want_body = on_the_wire(want)
        assert (got_method, got_target, got_body) == (want_method, want_target, want_body)
        # the Host line names each fake's own port
        mine, theirs = (f.url.encode().removeprefix(b"http://") for f in (ours, reference))
        assert got_headers == [(k, v.replace(theirs, mine)) for k, v in want_headers]
