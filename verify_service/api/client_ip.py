"""Who is the client: the socket peer, unless that peer is a trusted proxy, in which case
the nearest untrusted hop of X-Forwarded-For. Read from the right, because everything left
of what our own proxies appended is whatever the client chose to send."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from litestar import Request

Network = IPv4Network | IPv6Network
MAX_HOPS = 32  # a longer chain is not a real proxy chain; do not spend time on it
MAX_HOP_LENGTH = 64


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def resolve_client_ip(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[Network]
) -> str | None:
    if peer is None:
        return None
    if not _trusted(_address(peer), trusted_proxies):
        return peer
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops[-MAX_HOPS:]):
        address = _address(hop)
        client = str(address) if address is not None else hop[:MAX_HOP_LENGTH]
        if not _trusted(address, trusted_proxies):
            break
    return client


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """Litestar dependency: the client address for per-client rate limits."""
    proxies = request.app.state.verifications.settings.trusted_proxies
    peer = request.client.host if request.client else None
    return resolve_client_ip(peer, request.headers.getall("x-forwarded-for", []), proxies)
