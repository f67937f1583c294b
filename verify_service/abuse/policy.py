"""The abuse policy of each service, as `verifications` sees it: a few calls at fixed
points of start and check. The rules are here and in `abuse.fraud`; counting is in
`store.limiter` (the `limits` library) and `store.fraud` (Lua)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any, Protocol

import limits

from verify_service.abuse import destinations, testnumbers
from verify_service.abuse.fraud import PumpingGuard
from verify_service.abuse.ranges import country_of
from verify_service.config import ServiceSettings, Settings
from verify_service.config.abuse import parse_limits
from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumber
from verify_service.store.keys import tagged
from verify_service.store.limiter import Counting, Layer, RateLimiter, Refusal
from verify_service.store.scripts import Call
from verify_service.store.verifications import Store, store_call

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


@dataclass(frozen=True, slots=True)
class Checks:
    """The abuse checks of one start, prepared: `calls` in order, each going on only when
    its reply lets the start through (`Scripts.chain`), and `judge`, which takes the
    replies of those that ran and raises the refusal they mean (VerifyError:
    fraud_suspected, rate_limited), telling the observer, as `before_send` does."""

    calls: list[Call]
    judge: Callable[[Sequence[Any]], None]


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


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 address as `str(ip_address(...))` writes it (no leading zeros, no spaces).
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)


def client_subject(client_ip: str | None) -> str | None:
    """IPv6 clients are counted per /64: one subscriber gets a whole /64, so counting
    single addresses would give each of them billions of budgets."""
    if client_ip is None:
        return None
    if _CANONICAL_IPV4.fullmatch(client_ip):  # what ip_address would print it as: as is
        return client_ip
    try:
        address = ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        if address.ipv4_mapped is not None:  # dual-stack sockets report IPv4 like this
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


def _per_channel(channel: str, subject: str | None) -> str | None:
    """SMS keeps the subjects it always had (counters in flight stay valid across a
    deploy); other channels count under their own name."""
    if subject is None or channel == "sms":
        return subject
    return f"{channel}:{subject}"


def _channel_country(phone: PhoneNumber | None, channel: str) -> str | None:
    """The country subject of a send (per_country limits, pumping guard); None for email."""
    return None if phone is None else _per_channel(channel, country_of(phone))


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
            self._observer.blocked(service.name, exc.extra["reason"], country_of(phone))
            raise

    def test_code(self, service: ServiceSettings, e164: str) -> str | None:
        return testnumbers.fixed_code(service, e164, self.clock())

    async def before_send(self, *args: Any, **kwargs: Any) -> None:
        """`send_checks` (its arguments), run on their own; raises their refusal."""
        await self.run(self.send_checks(*args, **kwargs))

    def send_checks(
        self,
        service: ServiceSettings,
        phone: PhoneNumber | None,
        client_ip: str | None,
        channel: str = "sms",
        address: str | None = None,
    ) -> Checks:
        """The checks of every start that may send, new verification or resend alike
        (test numbers never get here: they send nothing): the pumping guard, then every
        rate-limit layer in one call, and what their replies mean. The guard goes first:
        starts to a blocked range cost no rate-limit budget, so an attacker's refused
        starts do not use up the country's or the service's budget for real users. It
        watches the channels that can be pumped (SMS, WhatsApp, voice: every phone
        channel), never email, which has no premium-rate destinations. The number (or
        email `address`) and its country are counted apart on each channel, so a
        fallback to voice is not refused for the SMS sent before it. Run on their own
        (`before_send`) or ahead of the start's own call, in its round trip
        (usecases.verifications, `Store.start`)."""
        country = _channel_country(phone, channel)
        guard = self.fraud.start_call(service, phone) if phone is not None else None
        recipient = phone.e164 if phone is not None else address
        subjects = {
            "per_ip": client_subject(client_ip),
            "per_number": _per_channel(channel, recipient),
            "per_country": country,
            "global_sends": "",
        }
        counting = self.limiter.prepare(
            service.rate_limits.strategy,
            [
                self._layer(service, layer, subject)
                for layer in START_LAYERS
                if (subject := subjects[layer]) is not None
            ],
        )
        region = country_of(phone) if phone else ""

        def judge(replies: Sequence[Any]) -> None:
            rest = replies
            if guard is not None and phone is not None:
                self.fraud.judge(service, phone, replies[0])
                rest = replies[1:]
            self._judge(service, counting, rest, region)

        return Checks([*([guard] if guard else []), *counting.calls], judge)

    def test_number_checks(
        self, service: ServiceSettings, phone: PhoneNumber, client_ip: str | None
    ) -> Checks:
        """A start to a test number: it sends nothing, so it skips the country and send
        budgets and the pumping guard, but not the per-client and per-number limits (a
        test number must not be a way to loop starts for free)."""
        subjects = {"per_ip": client_subject(client_ip), "per_number": phone.e164}
        layers = [
            self._layer(service, layer, subject)
            for layer, subject in subjects.items()
            if subject is not None
        ]
        counting = self.limiter.prepare(service.rate_limits.strategy, layers)
        region = country_of(phone)
        return Checks(
            counting.calls, lambda replies: self._judge(service, counting, replies, region)
        )

    async def before_test_number_start(
        self, service: ServiceSettings, phone: PhoneNumber, client_ip: str | None
    ) -> None:
        """`test_number_checks`, run on their own."""
        await self.run(self.test_number_checks(service, phone, client_ip))

    async def run(self, checks: Checks) -> None:
        """Run `checks` on their own (one call each, in order); raises their refusal."""
        if not checks.calls:
            return
        store = self.limiter.store
        with store_call(store.deadline):
            replies = await store.scripts.chain(checks.calls, together=False)
        checks.judge(replies)

    async def before_check(self, service: ServiceSettings, client_ip: str | None) -> None:
        subject = client_subject(client_ip)
        if subject is not None:
            await self._hit(service, [self._layer(service, "checks_per_ip", subject)])

    async def approved(
        self, service: ServiceSettings, e164: str, region: str, channel: str = "sms"
    ) -> None:
        """Feed the pumping guard (test numbers and email excepted); never fails the check."""
        if channel != "email" and self.test_code(service, e164) is None:
            await self.fraud.approved(service, e164)

    def approval_call(
        self, service: ServiceSettings, e164: str, channel: str, phone: PhoneNumber | None = None
    ) -> Call | None:
        """`approved`'s script call, to run guarded with the approval itself (one round
        trip, `Store.finish`); None when there is nothing to count (the guard off, a test
        number, email). `approval_counted` reads its reply. `phone`: `e164` as parsed,
        when the caller has it."""
        if channel == "email" or self.test_code(service, e164) is not None:
            return None
        return self.fraud.approve_call(service, e164, phone)

    def approval_counted(self, service: ServiceSettings, reply: Any) -> None:
        """What `approval_call`'s reply means: a count the guard missed is logged; the
        check stays approved."""
        self.fraud.approval_counted(service, reply)

    def _layer(self, service: ServiceSettings, layer: str, subject: str) -> Layer:
        items = self._limits[service.name][layer]
        return Layer(layer, tagged(layer, service.name, subject), items)

    async def _hit(self, service: ServiceSettings, layers: list[Layer], country: str = "") -> None:
        refusal = await self.limiter.hit(service.rate_limits.strategy, layers)
        if refusal is not None:
            self._rate_limited(service, refusal, country)

    def _judge(
        self, service: ServiceSettings, counting: Counting, replies: Sequence[Any], country: str
    ) -> None:
        refusal = counting.refusal(replies)
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
