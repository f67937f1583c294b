"""What handlers are given: the parts the app factory built (`Components`), the calling
service (by API key), the client's address, each as a typed Litestar dependency.

API keys are compared as SHA-256 digests: the config holds only hashes, and a dict lookup
on a digest reveals nothing about the key through timing.

The client is the socket peer, unless that peer is a trusted proxy, in which case the
nearest untrusted hop of X-Forwarded-For. Read from the right, because everything left of
what our own proxies appended is whatever the client chose to send."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from verify_service.config import ServiceSettings, Settings
from verify_service.config.abuse import Operator
from verify_service.domain.errors import VerifyError
from verify_service.observability import logs
from verify_service.observability.metrics import Metrics
from verify_service.providers.base import Provider
from verify_service.providers.router import Router
from verify_service.store import Store
from verify_service.usecases.attempts import Attempts
from verify_service.usecases.fraud import FraudControl
from verify_service.usecases.outbox import Outbox
from verify_service.usecases.reports import DeliveryReports
from verify_service.usecases.verifications import Verifications
from verify_service.usecases.workflows import Workflows
from verify_service.webhooks.callbacks import StatusEvents

Network = IPv4Network | IPv6Network
MAX_HOPS = 32  # a longer chain is not a real proxy chain; do not spend time on it
MAX_HOP_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Components:
    """Everything `api.app.build_components` builds for one app, built once and closed
    once (`aclose`). `providers` are the configured ones by name; `api_keys` maps the
    SHA-256 hex digest of each API key to its service; `outbox` exists in test_mode only."""

    settings: Settings
    store: Store
    metrics: Metrics
    providers: Mapping[str, Provider]
    router: Router
    events: StatusEvents
    verifications: Verifications
    reports: DeliveryReports
    api_keys: Mapping[str, ServiceSettings]
    attempts: Attempts
    outbox: Outbox | None = None
    workflows: Workflows | None = None  # where a service has more than one channel
    fraud: FraudControl | None = None  # operator control of the pumping guard
    operator_keys: Mapping[str, Operator] | None = None  # SHA-256 hex digest -> operator

    async def aclose(self) -> None:
        """Let pending status events go out (within their grace period), then close the
        providers' connections and the store's."""
        await self.events.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        await self.store.aclose()


def components_of(state: State) -> Components:
    components: Components = state.components
    return components


# --- the calling service -------------------------------------------------------------------


def key_index(settings: Settings) -> dict[str, ServiceSettings]:
    return {
        key.removeprefix("sha256:"): service
        for service in settings.services
        for key in service.api_keys
    }


def operator_key_index(settings: Settings) -> dict[str, Operator]:
    return {
        key.removeprefix("sha256:"): operator
        for operator in settings.operators
        for key in operator.api_keys
    }


def service_for_key(request: Request[Any, Any, Any], key: str | None) -> ServiceSettings:
    """The service that owns API key `key`. Raises VerifyError(unauthorized) for none or a
    wrong one (each dialect turns that into its own 401)."""
    if not key:
        raise VerifyError("unauthorized", "send the API key as 'Authorization: Bearer <key>'")
    index = components_of(request.app.state).api_keys
    service = index.get(hashlib.sha256(key.encode()).hexdigest())
    if service is None:
        raise VerifyError("unauthorized", "the API key is not valid")
    logs.bind(service=service.name)  # every log line of this request names the tenant
    return service


def bearer_service(request: Request[Any, Any, Any]) -> ServiceSettings:
    """Native API: the service of `Authorization: Bearer <key>`."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        key = ""
    return service_for_key(request, key.strip())


# --- the client's address ------------------------------------------------------------------


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


@functools.lru_cache(maxsize=1024)
def _peer_trusted(peer: str, trusted_proxies: tuple[Network, ...]) -> bool:
    """Whether the socket peer is a trusted proxy: a server sees few distinct peers when
    proxies are configured (its load balancers), so the parse is done once per peer."""
    return _trusted(_address(peer), trusted_proxies)


def resolve_client_ip(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[Network]
) -> str | None:
    """The client's address from the socket `peer` and the X-Forwarded-For header lines;
    None when the peer is unknown (a test transport)."""
    if peer is None or not trusted_proxies:  # no proxy: the peer is the client, unparsed
        return peer
    if not _peer_trusted(peer, tuple(trusted_proxies)):
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
    """The client address for per-client rate limits."""
    return _client_ip(request, components_of(request.app.state).settings.trusted_proxies)


def _client_ip(request: Request[Any, Any, Any], proxies: Sequence[Network]) -> str | None:
    client = request.scope.get("client")  # what `request.client` wraps, without the wrapper
    peer = client[0] if client else None
    if not proxies:  # X-Forwarded-For is not read at all
        return peer
    return resolve_client_ip(peer, request.headers.getall("x-forwarded-for", []), proxies)


@dataclass(frozen=True, slots=True)
class Caller:
    """What a verification handler needs, as ONE dependency: Litestar resolves two or more
    dependencies of a handler in a task group, a task each (docs/performance.md), one
    without any. Built by each dialect from the service its credentials name."""

    service: ServiceSettings
    verifications: Verifications
    client_ip: str | None


def caller(request: Request[Any, Any, Any], service: ServiceSettings) -> Caller:
    components = components_of(request.app.state)
    return Caller(
        service,
        components.verifications,
        _client_ip(request, components.settings.trusted_proxies),
    )


# --- the parts, for handlers ---------------------------------------------------------------


def _settings(state: State) -> Settings:
    return components_of(state).settings


def _store(state: State) -> Store:
    return components_of(state).store


def _metrics(state: State) -> Metrics:
    return components_of(state).metrics


def _providers(state: State) -> Mapping[str, Provider]:
    return components_of(state).providers


def _verifications(state: State) -> Verifications:
    return components_of(state).verifications


def _reports(state: State) -> DeliveryReports:
    return components_of(state).reports


def _attempts(state: State) -> Attempts:
    return components_of(state).attempts


def _outbox(state: State) -> Outbox:
    outbox = components_of(state).outbox
    assert outbox is not None, "the outbox routes exist only in test_mode"
    return outbox


def app_dependencies() -> dict[str, Provide]:
    """The dependencies every handler may name (each dialect adds how it finds `service`):
    `settings`, `store` (readiness), `metrics`, `providers`, `verifications`, `reports`,
    `attempts`, `outbox` (test_mode) and `client_ip`."""
    return {
        "settings": Provide(_settings, sync_to_thread=False),
        "store": Provide(_store, sync_to_thread=False),
        "metrics": Provide(_metrics, sync_to_thread=False),
        "providers": Provide(_providers, sync_to_thread=False),
        "verifications": Provide(_verifications, sync_to_thread=False),
        "reports": Provide(_reports, sync_to_thread=False),
        "attempts": Provide(_attempts, sync_to_thread=False),
        "outbox": Provide(_outbox, sync_to_thread=False),
        "client_ip": Provide(client_ip, sync_to_thread=False),
    }
