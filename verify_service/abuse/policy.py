"""The abuse policy of each service, as `verifications` sees it: a few calls at fixed
points of start and check. The rules are here; counting is in `store.limiter` (the
`limits` library) and `store.pumping` (Lua)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Protocol

import limits

from verify_service.abuse import destinations, testnumbers
from verify_service.config import ServiceSettings, Settings
from verify_service.config.abuse import parse_limits
from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumber
from verify_service.store.keys import tagged
from verify_service.store.limiter import Layer, RateLimiter, Refusal
from verify_service.store.pumping import PumpingCounters
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

    def fraud_guard_tripped(self, service: str, country: str) -> None:
        """The pumping guard paused starts to `country` for a cool-down."""


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


def _per_channel(channel: str, subject: str | None) -> str | None:
    """SMS keeps the subjects it always had (counters in flight stay valid across a
    deploy); other channels count under their own name."""
    if subject is None or channel == "sms":
        return subject
    return f"{channel}:{subject}"


def _channel_country(phone: PhoneNumber | None, channel: str) -> str | None:
    """The country subject of a send (per_country limits, pumping guard); None for email."""
    return None if phone is None else _per_channel(channel, _country(phone))


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
        self.limiter = RateLimiter(store)
        self.pumping = PumpingCounters(store)
        self._limits: dict[str, dict[str, list[limits.RateLimitItem]]] = {
            service.name: {
                layer: parse_limits(getattr(service.rate_limits, layer))
                for layer in (*START_LAYERS, "checks_per_ip")
            }
            for service in settings.services
        }
        # (service, country) -> monotonic instant until which the pumping guard said no:
        # this process then refuses without a round trip and without using any budget.
        self._blocked: dict[tuple[str, str], float] = {}
        now = clock()
        for service in settings.services:
            line = testnumbers.describe(service, now)
            if line is not None:
                log.info(line)

    def check_destination(
        self, service: ServiceSettings, phone: PhoneNumber, channel: str = "sms"
    ) -> None:
        """Country and prefix rules hold on every phone channel; `mobile_only` not for
        voice, where a landline is exactly what a call can reach."""
        try:
            destinations.check_destination(
                phone,
                allowed_countries=service.allowed_countries,
                blocked_countries=service.blocked_countries,
                blocked_prefixes=service.blocked_prefixes,
                mobile_only=service.mobile_only and channel != "voice",
            )
        except VerifyError as exc:
            self._observer.blocked(service.name, exc.extra["reason"], _country(phone))
            raise

    def test_code(self, service: ServiceSettings, e164: str) -> str | None:
        return testnumbers.fixed_code(service, e164, self.clock())

    async def before_send(
        self,
        service: ServiceSettings,
        phone: PhoneNumber | None,
        client_ip: str | None,
        channel: str = "sms",
        address: str | None = None,
    ) -> None:
        """Every start that may send counts here, new verification or resend alike (test
        numbers never get here: they send nothing). Per channel: the number (or email
        `address`) and its country are counted apart on each channel, so a fallback to
        voice is not refused for the SMS sent before it; the pumping guard watches SMS,
        WhatsApp and voice each on its own (all three can be pumped), never email, which
        has no premium-rate destinations."""
        country = _channel_country(phone, channel)
        if country is not None:
            self._refuse_if_blocked(service, country)
        recipient = phone.e164 if phone is not None else address
        subjects = {
            "per_ip": client_subject(client_ip),
            "per_number": _per_channel(channel, recipient),
            "per_country": country,
            "global_sends": "",
        }
        # every layer in one store call (store/limiter.py)
        await self._hit(
            service,
            [
                self._layer(service, layer, subject)
                for layer in START_LAYERS
                if (subject := subjects[layer]) is not None
            ],
            _country(phone) if phone else "",
        )
        if country is not None:
            await self._guard(service, country)

    async def before_test_number_start(
        self, service: ServiceSettings, phone: PhoneNumber, client_ip: str | None
    ) -> None:
        """A start to a test number: it sends nothing, so it skips the country and send
        budgets and the pumping guard, but not the per-client and per-number limits (a
        test number must not be a way to loop starts for free)."""
        subjects = {"per_ip": client_subject(client_ip), "per_number": phone.e164}
        layers = [
            self._layer(service, layer, subject)
            for layer, subject in subjects.items()
            if subject is not None
        ]
        await self._hit(service, layers, _country(phone))

    async def before_check(self, service: ServiceSettings, client_ip: str | None) -> None:
        subject = client_subject(client_ip)
        if subject is not None:
            await self._hit(service, [self._layer(service, "checks_per_ip", subject)])

    async def approved(
        self, service: ServiceSettings, e164: str, region: str, channel: str = "sms"
    ) -> None:
        """Feed the pumping guard of the channel that carried the code; never fails the
        check that was just approved."""
        guard = service.fraud_guard
        if not guard.enabled or channel == "email" or self.test_code(service, e164) is not None:
            return
        try:
            await self.pumping.approved(
                service.name,
                _per_channel(channel, region or "001") or "001",
                window=guard.window,
                cooldown=guard.cooldown,
            )
        except VerifyError:
            log.warning("fraud guard: could not count an approval for service %r", service.name)

    def _layer(self, service: ServiceSettings, layer: str, subject: str) -> Layer:
        items = self._limits[service.name][layer]
        return Layer(layer, tagged(layer, service.name, subject), items)

    async def _hit(self, service: ServiceSettings, layers: list[Layer], country: str = "") -> None:
        refusal = await self.limiter.hit(service.rate_limits.strategy, layers)
        if refusal is not None:
            self._rate_limited(service, refusal, country)

    def _rate_limited(self, service: ServiceSettings, refusal: Refusal, country: str) -> None:
        self._observer.blocked(service.name, refusal.layer, country)
        raise VerifyError(
            "rate_limited",
            f"{_DETAIL[refusal.layer]}; try again in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
            extra={"limit": refusal.layer, "window": refusal.limit},
        )

    def _refuse_if_blocked(self, service: ServiceSettings, country: str) -> None:
        until = self._blocked.get((service.name, country))
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[(service.name, country)]
            return
        self._fraud_suspected(service, country, max(1, round(left)))

    async def _guard(self, service: ServiceSettings, country: str) -> None:
        guard = service.fraud_guard
        if not guard.enabled:
            return
        verdict = await self.pumping.start(
            service.name,
            country,
            window=guard.window,
            min_starts=guard.min_starts,
            min_conversion=guard.min_conversion,
            cooldown=guard.cooldown,
        )
        if verdict.state == "ok":
            return
        retry_after = verdict.retry_after or guard.cooldown
        if verdict.state == "tripped":
            self._observer.fraud_guard_tripped(service.name, country)
            log.warning(
                "fraud guard: service %r blocks starts to %s for %d s: %d starts, %d approved "
                "in the last %d s (below %.0f%%)",
                service.name,
                country,
                retry_after,
                verdict.starts,
                verdict.approvals,
                guard.window,
                guard.min_conversion * 100,
            )
        self._blocked[(service.name, country)] = time.monotonic() + retry_after
        self._fraud_suspected(service, country, retry_after)

    def _fraud_suspected(self, service: ServiceSettings, country: str, retry_after: int) -> None:
        self._observer.blocked(service.name, "fraud_suspected", country)
        raise VerifyError(
            "fraud_suspected",
            f"verifications to {country} are paused after unusual traffic; "
            f"try again in {retry_after} s",
            retry_after=retry_after,
            extra={"country": country},
        )
