"""The client address: the socket peer, or the nearest untrusted X-Forwarded-For hop when
the peer is a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_network

from hypothesis import given
from hypothesis import strategies as st

from verify_service.abuse.policy import client_subject
from verify_service.api.deps import resolve_client_ip

PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]
public_v4 = st.ip_addresses(v=4, network="203.0.113.0/24").map(str)
proxy_v4 = st.ip_addresses(v=4, network="10.0.0.0/8").map(str)
junk = st.text(alphabet="0123456789.:abcdef, ", max_size=30)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert resolve_client_ip("10.0.0.1", ["203.0.113.5"], []) == "10.0.0.1"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert resolve_client_ip("198.51.100.1", ["203.0.113.5"], PROXIES) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    chain = ["198.51.100.9, 203.0.113.5", "10.1.1.1"]
    assert resolve_client_ip("10.0.0.1", chain, PROXIES) == "203.0.113.5"


def test_ports_and_brackets_are_stripped() -> None:
    assert resolve_client_ip("10.0.0.1", ["203.0.113.5:4711"], PROXIES) == "203.0.113.5"
    assert resolve_client_ip("10.0.0.1", ["[2001:db8::1]:443"], PROXIES) == "2001:db8::1"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert resolve_client_ip("10.0.0.1", [], PROXIES) == "10.0.0.1"


@given(spoofed=st.lists(junk, max_size=5), client=public_v4, proxies=st.lists(proxy_v4, max_size=3))
def test_whatever_the_client_prepends_the_address_our_proxy_saw_wins(
    spoofed: list[str], client: str, proxies: list[str]
) -> None:
    # the client sends any X-Forwarded-For; the first proxy appends the real address,
    # further proxies append theirs
    header = ", ".join([*spoofed, client, *proxies])
    assert resolve_client_ip("10.0.0.1", [header], PROXIES) == client


def test_ipv6_is_counted_per_64_and_ipv4_per_address() -> None:
    assert client_subject("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_subject("203.0.113.5") == "203.0.113.5"
    assert client_subject("::ffff:203.0.113.5") == "203.0.113.5"
    assert client_subject("testclient") == "testclient"
    assert client_subject(None) is None
