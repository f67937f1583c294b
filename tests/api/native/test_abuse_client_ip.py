"""The client address: the socket peer, or the nearest untrusted X-Forwarded-For hop when
the peer is a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

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


def _subject_by_parsing(client_ip: str) -> str:
    """client_subject's rule without its shortcut for canonical IPv4 text."""
    try:
        address = ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


@given(
    st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=4).map(lambda a: ".".join(f"0{o}" for o in str(a).split("."))),
        st.text(alphabet="0123456789.: \nx", max_size=20),
    )
)
def test_the_ipv4_shortcut_counts_every_address_as_the_parse_does(client_ip: str) -> None:
    # canonical IPv4 skips the parse (it is what the parse would print); everything else,
    # leading zeros, spaces, a trailing newline, IPv6, junk, is parsed as before
    assert client_subject(client_ip) == _subject_by_parsing(client_ip)


@given(peer=st.ip_addresses().map(str), hops=st.lists(junk, max_size=3))
def test_without_trusted_proxies_the_header_is_never_read(peer: str, hops: list[str]) -> None:
    assert resolve_client_ip(peer, hops, []) == peer
    assert resolve_client_ip("testclient", hops, ()) == "testclient"


@given(peer=st.one_of(proxy_v4, public_v4), client=public_v4)
def test_a_peer_is_trusted_alike_on_every_request(peer: str, client: str) -> None:
    # the peer's trust is kept per peer: asking twice answers as the first time did
    first = resolve_client_ip(peer, [client], PROXIES)
    assert resolve_client_ip(peer, [client], PROXIES) == first
    assert first == (client if peer.startswith("10.") else peer)
