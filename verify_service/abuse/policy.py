"""The abuse policy of each service, as `verifications` sees it: a few calls at fixed
points of start and check. The rules are here and in `abuse.fraud`; counting is in
`store.limiter` (the `limits` library) and `store.fraud` (Lua)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Protocol

import limits

from verify_service.abuse import destinations, testnumbers
from verify_service.abuse.fraud import PumpingGuard
from verify_service.config import ServiceSettings, Settings
from verify_service.config.abuse import parse_limits
from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumber
from verify_service.store.keys import tagged
from verify_service.store.limiter import RateLimiter, limiter_storage
from verify_service.store.verifications import Store

log = logging.getLogger("verify_service.abuse")

# Start layers, broadest caller first: a request refused by one layer is not counted by
# the later ones, so a flood from one address does not use up its victims' budgets.
START_LAYERS = ("per_ip", "per_number", "per_country", "global_sends")
_DETAIL = {
    "per_ip": "too many verifications from this client",
    "per_number": "too many verifications for this number",
    "per_country": "too many verifications to this country",
    "global_sends": "this service has used its send budget",
    "checks_per_ip": "too many checks from this client",
}


class AbuseObserver(Protocol):
    """Told of every refusal, for metrics (`observability.metrics.MetricsObserver`)."""

    def blocked(self, service: str, reason: str, country: str) -> None:
        """A start or check was refused: `reason` is a rate-limit layer, a destination rule
        (country_blocked, not_mobile, ...), fraud_suspected, resend_too_soon or
        max_send_attempts; `country` the ISO 3166 region ("" when not known)."""

    def fraud_guard_tripped(self, service: str, country: str, level: str) -> None:
        """The pumping guard blocked a number range of `country` for a cool-down; `level`
        is the range's (`abuse.ranges.LEVELS`: country, ndc, block_1m, ...)."""

    def fraud_operator_action(self, service: str, action: str, country: str) -> None:
        """An operator changed the guard's state (`usecases.fraud`): `action` is lift,
        allow or unallow; `country` that of the range ("" when not known)."""


def client_subject(client_ip: str | None) -> str | None:
    """IPv6 clients are counted per /64: one subscriber gets a whole /64, so counting
    single addresses would give each of them billions of budgets."""
    if client_ip is None:
        return None
    try:
        address = ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        if address.ipv4_mapped is not None:  # dual-stack sockets report IPv4 like this
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


def _country(phone: PhoneNumber) -> str:
    return phone.region or "001"  # phonenumbers' code for non-geographic ranges


class AbusePolicy:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        observer: AbuseObserver,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._observer = observer
        self.clock = clock
        self.limiter = RateLimiter(limiter_storage(store), store.deadline)
        self.fraud = PumpingGuard(settings, store, observer)
        self._limits: dict[str, dict[str, list[limits.RateLimitItem]]] = {
            service.name: {
                layer: parse_limits(getattr(service.rate_limits, layer))
                for layer in (*START_LAYERS, "checks_per_ip")
            }
            for service in settings.services
        }
        now = clock()
        for service in settings.services:
            line = testnumbers.describe(service, now)
            if line is not None:
                log.info(line)

    def check_destination(self, service: ServiceSettings, phone: PhoneNumber) -> None:
        try:
            destinations.check_destination(
                phone,
                allowed_countries=service.allowed_countries,
                blocked_countries=service.blocked_countries,
                blocked_prefixes=service.blocked_prefixes,
                mobile_only=service.mobile_only,
            )
        except VerifyError as exc:
            self._observer.blocked(service.name, exc.extra["reason"], _country(phone))
            raise

    def test_code(self, service: ServiceSettings, e164: str) -> str | None:
        return testnumbers.fixed_code(service, e164, self.clock())

    async def before_send(
        self, service: ServiceSettings, phone: PhoneNumber, client_ip: str | None
    ) -> None:
        """Every start that may send counts here, new verification or resend alike (test
        numbers never get here: they send nothing). The pumping guard goes first: starts
        to a blocked range cost no rate-limit budget, so an attacker's refused starts do
        not use up the country's or the service's budget for real users."""
        country = _country(phone)
        await self.fraud.before_send(service, phone)
        subjects = {
            "per_ip": client_subject(client_ip),
            "per_number": phone.e164,
            "per_country": country,
            "global_sends": "",
        }
        for layer in START_LAYERS:
            subject = subjects[layer]
            if subject is not None:
                await self._hit(service, layer, subject, country)

    async def before_check(self, service: ServiceSettings, client_ip: str | None) -> None:
        subject = client_subject(client_ip)
        if subject is not None:
            await self._hit(service, "checks_per_ip", subject)

    async def approved(self, service: ServiceSettings, e164: str, region: str) -> None:
        """Feed the pumping guard (test numbers excepted); never fails the check."""
        if self.test_code(service, e164) is None:
            await self.fraud.approved(service, e164)

    async def _hit(
        self, service: ServiceSettings, layer: str, subject: str, country: str = ""
    ) -> None:
        items = self._limits[service.name][layer]
        if not items:
            return
        strategy = service.rate_limits.strategy
        refusal = await self.limiter.hit(strategy, items, tagged(layer, service.name, subject))
        if refusal is not None:
            self._observer.blocked(service.name, layer, country)
            raise VerifyError(
                "rate_limited",
                f"{_DETAIL[layer]}; try again in {refusal.retry_after} s",
                retry_after=refusal.retry_after,
                extra={"limit": layer, "window": refusal.limit},
            )
