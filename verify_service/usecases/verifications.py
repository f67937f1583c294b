"""The use cases: start, check, fetch, cancel. No HTTP and no Redis details here: this is
where the rules of DESIGN §3 live, on top of `core`, `store` and `providers`."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio
import anyio.to_thread

from verify_service.abuse.policy import AbusePolicy
from verify_service.config import ServiceSettings, Settings
from verify_service.domain import locales, templates
from verify_service.domain.errors import VerifyError
from verify_service.domain.hashing import CodeHasher
from verify_service.domain.phones import PhoneNumber, PhoneNumberError, parse_phone
from verify_service.domain.tokens import TokenType, generate_token, normalize_code
from verify_service.observability import logs
from verify_service.observability.metrics import Metrics
from verify_service.providers.base import (
    DeliveryReport,
    OutgoingMessage,
    Provider,
    TokenRequest,
    TokenValidator,
    token_validator_of,
)
from verify_service.providers.metered import MeteredProvider
from verify_service.providers.router import Router, SendAttempt
from verify_service.store import Store, StoredVerification, keys
from verify_service.store.verifications import IdempotentAnswer, ScriptOutcome
from verify_service.usecases import delegation
from verify_service.webhooks.callbacks import StatusEvents

# verify_provider_breaker_state: 0 closed, 1 half-open, 2 open
BREAKER_GAUGE = {"closed": 0, "half_open": 1, "open": 2}

TERMINAL = ("approved", "canceled", "expired", "max_attempts_reached", "failed")


@dataclass(frozen=True, slots=True)
class Verification:
    id: str
    service: str
    to: str
    channel: str
    status: str
    token_type: str
    token_length: int
    created_at: datetime
    expires_at: datetime
    check_attempts: int
    max_check_attempts: int
    attempts_remaining: int
    send_attempts: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    status: str
    valid: bool
    attempts_remaining: int


class _PendingScript(Protocol):
    """Store.cancel and Store.approve: end a pending verification in one round trip."""

    def __call__(
        self, *, tag: str, service: str, verification_id: str, retention: int
    ) -> Awaitable[ScriptOutcome]: ...


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def effective_status(record: StoredVerification) -> str:
    """The stored status, with expiry and exhaustion judged on Redis's clock."""
    if record.status == "pending":
        if record.now_ms >= record.expires_at_ms:
            return "expired"
        if record.check_attempts >= record.max_check_attempts:
            return "max_attempts_reached"
    return record.status


def to_verification(record: StoredVerification) -> Verification:
    status = effective_status(record)
    remaining = record.max_check_attempts - record.check_attempts if status == "pending" else 0
    return Verification(
        id=record.id,
        service=record.service,
        to=record.to,
        channel=record.channel,
        status=status,
        token_type=record.token_type,
        token_length=record.token_length,
        created_at=_time(record.created_at_ms),
        expires_at=_time(record.expires_at_ms),
        check_attempts=record.check_attempts,
        max_check_attempts=record.max_check_attempts,
        attempts_remaining=max(0, remaining),
        send_attempts=list(record.sends),
        metadata=record.metadata,
        updated_at=_time(record.updated_at_ms),
    )


def _attempt_record(attempt: SendAttempt) -> dict[str, Any]:
    return {
        "at": attempt.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "provider": attempt.provider,
        "message_id": attempt.message_id,
        "status": attempt.status,
        "error": attempt.error,
    }


class Verifications:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        hasher: CodeHasher,
        providers: Mapping[str, Provider],
        metrics: Metrics | None = None,
        hash_threads: int | None = None,
        router: Router | None = None,
        events: StatusEvents | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hasher = hasher
        self.providers = providers
        self.metrics = metrics or Metrics()
        self.router = router or Router(on_breaker=self._breaker_state)
        self.events = events or StatusEvents(self.metrics)
        # What the router calls: the same providers, each send timed into the metrics.
        self._metered: dict[str, Provider] = {
            name: MeteredProvider(provider, self._observe_send)
            for name, provider in providers.items()
        }
        # Whether a service's provider makes and checks the codes itself is fixed by the
        # config: decided once here, not on every start and check. The providers themselves,
        # not their timing wrappers: the test is on their type.
        self._validators: dict[str, TokenValidator | None] = {
            service.name: token_validator_of(
                service.name, [providers[name] for name in service.providers]
            )
            for service in settings.services
        }
        self._hash_threads = hash_threads or os.cpu_count() or 1
        self._limiter: anyio.CapacityLimiter | None = None
        self.abuse = AbusePolicy(settings, store, self.metrics)

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        # argon2 is CPU- and memory-bound: run it in worker threads (it releases the GIL),
        # at most one per core so that a burst of checks queues instead of thrashing.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._hash_threads)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    def _phone(self, raw: str) -> PhoneNumber:
        try:
            return parse_phone(raw, self.settings.default_region)
        except PhoneNumberError as exc:
            raise VerifyError("invalid_phone_number", str(exc)) from None

    # --- start ---------------------------------------------------------------------------

    async def start(
        self,
        service: ServiceSettings,
        *,
        to: str,
        channel: str = "sms",
        token_type: TokenType | None = None,
        token_length: int | None = None,
        expires_in: int | None = None,
        template: str | None = None,
        locale: str | None = None,
        metadata: Mapping[str, str] | None = None,
        accept_language: str | None = None,
        client_ip: str | None = None,
    ) -> Verification:
        phone = self._phone(to)
        self.abuse.check_destination(service, phone)
        token_type = token_type or service.token_type
        length = token_length or service.token_length
        if not service.min_token_length <= length <= service.max_token_length:
            raise VerifyError(
                "invalid_request",
                f"token_length must be {service.min_token_length}-{service.max_token_length} "
                "for this service",
            )
        if template is not None:
            try:
                templates.validate_template(template)
            except templates.TemplateError as exc:
                raise VerifyError("invalid_template", str(exc)) from None
            # The service's own templates were checked at start-up for the longest code.
            too_long = service.segments_problem(template, length)
            if too_long is not None:
                raise VerifyError("invalid_template", too_long)
        else:
            # An explicit `locale` wins; else the caller's Accept-Language preferences.
            wanted = locale or locales.parse_accept_language(accept_language)
            template = templates.choose_template(service.template, service.templates, wanted)

        test_code = self.abuse.test_code(service, phone.e164)
        if test_code is None:
            await self.abuse.before_send(service, phone, client_ip)
        # Delegated mode: the provider makes the code; we keep a marker instead of a hash.
        validator = None if test_code else self._validator_of(service)
        code = test_code or ("" if validator else generate_token(token_type, length))
        logs.sensitive(code)
        tag = keys.tag_for(service.name, phone.e164)
        code_hash: str = (
            delegation.marker() if validator else await self._in_thread(self.hasher.hash, code, tag)
        )

        started = await self.store.start(
            tag=tag,
            new_id=keys.new_id(tag),
            service=service.name,
            to=phone.e164,
            code_hash=code_hash,
            expires_in=expires_in or service.expires_in,
            max_check_attempts=service.max_check_attempts,
            max_send_attempts=service.max_send_attempts,
            resend_cooldown=service.resend_cooldown,
            retention=self.settings.retention,
            token_type=token_type.value,
            token_length=len(code) or length,
            channel=channel,
            metadata=metadata or {},
        )
        if started.record is None:
            self.metrics.blocked(service.name, started.outcome, phone.region or "")
            raise VerifyError(
                started.outcome,
                "wait before requesting another code"
                if started.outcome == "resend_too_soon"
                else "no more codes can be sent for this verification",
                retry_after=started.retry_after,
            )
        record = started.record
        created = started.outcome == "created"
        if test_code is not None:
            # Test numbers never reach a provider (no cost, no pumping); the fixed code works.
            verification = to_verification(record)
            if created:
                self._status_changed(service, verification, "pending", region=phone.region or "")
            return verification

        reference = f"{record.id}.{record.send_count}"
        if validator is not None:
            expires = expires_in or service.expires_in
            request = TokenRequest(
                phone.e164, template, token_type.value, length, expires, reference
            )
            delivery = await delegation.start(validator, request)
            # The validator is not wrapped for timing (it is not a plain sender): count here.
            for attempt in delivery.attempts:
                outcome_word = "sent" if attempt.status == "sent" else "permanent_error"
                self.metrics.sends.labels(attempt.provider, outcome_word).inc()
        else:
            text = templates.compose(template, code, service.autofill)
            message = OutgoingMessage(phone.e164, text, reference)
            delivery = await self.router.deliver(
                self._providers_of(service), message, budget=service.send_budget
            )
            # Tried sends are timed and counted by MeteredProvider; these were never tried.
            for attempt in delivery.attempts:
                if attempt.seconds is None:  # breaker open or no time left
                    self.metrics.sends.labels(attempt.provider, "skipped").inc()
        outcome = await self.store.record_sends(
            tag=tag,
            verification_id=record.id,
            attempts=[_attempt_record(a) for a in delivery.attempts],
            sent=delivery.sent,
            code_hash=code_hash,
            retention=self.settings.retention,
            message_ids=[
                (a.provider, a.message_id)
                for a in delivery.attempts
                if a.status == "sent" and a.message_id
            ],
            # Reports can come while the verification is readable: its lifetime + retention.
            index_ttl_ms=record.expires_at_ms - record.now_ms + self.settings.retention * 1000,
        )
        if outcome.record is not None and created:
            self._status_changed(
                service, to_verification(outcome.record), "pending", region=phone.region or ""
            )
        if not delivery.sent:
            if outcome.record is not None and outcome.record.status == "failed":
                self._status_changed(
                    service, to_verification(outcome.record), "failed", region=phone.region or ""
                )
            if delivery.recipient_invalid:
                raise VerifyError(
                    "invalid_phone_number",
                    f"the SMS provider refused this number ({delivery.reason})",
                )
            reasons = "; ".join(f"{a.provider}: {a.error}" for a in delivery.attempts)
            raise VerifyError("provider_unavailable", reasons or "no provider configured")
        assert outcome.record is not None
        return to_verification(outcome.record)

    async def start_idempotent(
        self, service: ServiceSettings, idempotency_key: str, body: bytes, **params: Any
    ) -> Verification:
        """The same key within 24 h returns the first answer and sends nothing; the same key
        with another body is an error rather than a silent replay of something else."""
        fingerprint = hashlib.sha256(body).hexdigest()
        claimed = await self.store.idempotency_claim(service.name, idempotency_key, fingerprint)
        if isinstance(claimed, IdempotentAnswer):
            if claimed.fingerprint != fingerprint:
                raise VerifyError(
                    "idempotency_key_reused", "this Idempotency-Key was used with another body"
                )
            return _verification_from_json(claimed.body)
        if isinstance(claimed, str):
            code = "idempotency_in_progress" if claimed == fingerprint else "idempotency_key_reused"
            raise VerifyError(code, "this Idempotency-Key is in use by another request")
        try:
            verification = await self.start(service, **params)
        except BaseException:
            await self.store.idempotency_release(service.name, idempotency_key)
            raise
        await self.store.idempotency_store(
            service.name,
            idempotency_key,
            IdempotentAnswer(fingerprint, 201, _verification_to_json(verification), {}),
        )
        return verification

    def _providers_of(self, service: ServiceSettings) -> Sequence[Provider]:
        return [self._metered[name] for name in service.providers]

    def _breaker_state(self, provider: str, state: str) -> None:
        self.metrics.set_breaker(provider, BREAKER_GAUGE[state])

    def _observe_send(self, provider: str, outcome: str, seconds: float) -> None:
        self.metrics.sends.labels(provider, outcome).inc()
        self.metrics.send_seconds.labels(provider, outcome).observe(seconds)

    def _status_changed(
        self,
        service: ServiceSettings,
        verification: Verification,
        status: str,
        *,
        region: str | None = None,
    ) -> None:
        """One place for everything a status change sets off: the counter (by the provider
        that carried the code, for conversion by provider and country) and the event."""
        test_number = verification.to in service.test_numbers
        provider = "test_number" if test_number else _sender(verification.send_attempts)
        self.metrics.verifications.labels(
            service.name,
            provider,
            # Callers that have parsed the number pass its region: one parse less.
            _region_of(verification.to) if region is None else region,
            status,
        ).inc()
        if service.status_callback_url and service.status_callback_secret is not None:
            self.events.emit(
                service=service.name,
                url=service.status_callback_url,
                secret=service.status_callback_secret.get_secret_value(),
                verification=_verification_to_json(verification),
                status=status,
            )

    def _validator_of(self, service: ServiceSettings) -> TokenValidator | None:
        return self._validators[service.name]

    # --- delivery reports ----------------------------------------------------------------

    async def apply_reports(self, provider: str, reports: Sequence[DeliveryReport]) -> int:
        """Mark the send attempts the reports are about; returns how many changed. Reports
        of messages we do not know (not ours, or long gone) are ignored on purpose: an error
        would only make the provider send them again and again."""
        wanted = [r for r in reports if r.status in ("delivered", "undelivered")]
        outcomes = await self.store.apply_reports(
            provider, [(r.message_id, r.status, r.detail) for r in wanted]
        )
        for report, outcome in zip(wanted, outcomes, strict=True):
            self.metrics.delivery_reports.labels(provider, report.status, outcome).inc()
        return outcomes.count("changed")

    # --- check ---------------------------------------------------------------------------

    def _tag(self, service: ServiceSettings, to: str | None, verification_id: str | None) -> str:
        if verification_id is not None:
            tag = keys.tag_of_id(verification_id)
            if tag is None:
                raise VerifyError("verification_not_found", "no verification with this id")
            return tag
        if to is None:
            raise VerifyError("invalid_request", "give either `to` or `verification_id`")
        return keys.tag_for(service.name, self._phone(to).e164)

    async def check(
        self,
        service: ServiceSettings,
        *,
        code: str,
        to: str | None = None,
        verification_id: str | None = None,
        client_ip: str | None = None,
    ) -> CheckResult:
        logs.sensitive(code)
        await self.abuse.before_check(service, client_ip)
        tag = self._tag(service, to, verification_id)
        reserved = await self.store.reserve(
            tag=tag,
            service=service.name,
            verification_id=verification_id,
            retention=self.settings.retention,
        )
        record = reserved.record
        if record is None:
            raise VerifyError("verification_not_found", "no verification for this number or id")
        if reserved.outcome != "reserved":
            status = effective_status(record)
            if reserved.outcome == "expired":
                self._status_changed(service, to_verification(record), "expired")
            self.metrics.checks.labels(service.name, status).inc()
            return CheckResult(record.id, status, valid=False, attempts_remaining=0)

        if delegation.is_delegated(record.code_hashes):
            valid = await delegation.check(self._validator_of(service), record.to, code)
        else:
            candidate = normalize_code(TokenType(record.token_type), code)
            valid = await self._in_thread(self.hasher.matches, candidate, tag, record.code_hashes)
        remaining = record.max_check_attempts - record.check_attempts
        if valid:
            finished = await self.store.finish(
                tag=tag,
                verification_id=record.id,
                status="approved",
                retention=self.settings.retention,
            )
            assert finished.record is not None
            approved = finished.outcome == "changed"
            self.metrics.checks.labels(service.name, "valid" if approved else "replayed").inc()
            if approved:
                region = _region_of(finished.record.to)
                self._status_changed(
                    service, to_verification(finished.record), "approved", region=region
                )
                await self.abuse.approved(service, finished.record.to, region)
            return CheckResult(
                record.id,
                effective_status(finished.record),
                valid=approved,
                attempts_remaining=0 if approved else max(0, remaining),
            )
        self.metrics.checks.labels(service.name, "invalid").inc()
        if remaining <= 0:
            finished = await self.store.finish(
                tag=tag,
                verification_id=record.id,
                status="max_attempts_reached",
                retention=self.settings.retention,
            )
            if finished.outcome == "changed" and finished.record is not None:
                self._status_changed(
                    service, to_verification(finished.record), "max_attempts_reached"
                )
            return CheckResult(record.id, "max_attempts_reached", valid=False, attempts_remaining=0)
        return CheckResult(record.id, "pending", valid=False, attempts_remaining=remaining)

    # --- fetch / cancel ------------------------------------------------------------------

    async def fetch(self, service: ServiceSettings, verification_id: str) -> Verification:
        tag = self._tag(service, None, verification_id)
        found = await self.store.fetch(
            tag=tag, service=service.name, verification_id=verification_id
        )
        if found.record is None:
            raise VerifyError("verification_not_found", "no verification with this id")
        return to_verification(found.record)

    async def cancel(self, service: ServiceSettings, verification_id: str) -> Verification:
        return await self._end_pending(service, verification_id, self.store.cancel, "canceled")

    async def approve(self, service: ServiceSettings, verification_id: str) -> Verification:
        """Approve without a code: the backend has verified the person some other way
        (Twilio's `Status=approved`). Only a pending, unexpired verification with attempts
        left can be approved; its code hashes are dropped so no later check approves."""
        return await self._end_pending(service, verification_id, self.store.approve, "approved")

    async def _end_pending(
        self,
        service: ServiceSettings,
        verification_id: str,
        script: _PendingScript,
        status: str,
    ) -> Verification:
        """Move a pending verification to `status` by `script` (one store round trip, which
        answers `status` when it made the change, `expired` when it recorded the expiry)."""
        tag = self._tag(service, None, verification_id)
        result = await script(
            tag=tag,
            service=service.name,
            verification_id=verification_id,
            retention=self.settings.retention,
        )
        if result.record is None:
            raise VerifyError("verification_not_found", "no verification with this id")
        verification = to_verification(result.record)
        if result.outcome == "expired":
            self._status_changed(service, verification, "expired")
        if result.outcome != status:
            raise VerifyError(
                "verification_not_pending",
                f"the verification is {verification.status}",
                extra={"verification_status": verification.status},
            )
        self._status_changed(service, verification, status)
        return verification

    async def aclose(self) -> None:
        await self.events.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        await self.store.aclose()


def _verification_to_json(v: Verification) -> dict[str, Any]:
    data = dataclasses.asdict(v)
    data["created_at"] = v.created_at.isoformat()
    data["expires_at"] = v.expires_at.isoformat()
    data["updated_at"] = v.updated_at.isoformat() if v.updated_at else None
    return data


def _verification_from_json(data: dict[str, Any]) -> Verification:
    data = dict(data)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["expires_at"] = datetime.fromisoformat(data["expires_at"])
    if data.get("updated_at"):
        data["updated_at"] = datetime.fromisoformat(data["updated_at"])
    return Verification(**data)


def _sender(send_attempts: Sequence[Mapping[str, Any]]) -> str:
    """The provider that last took the code ("none" when no send succeeded)."""
    for attempt in reversed(send_attempts):
        if attempt.get("status") in ("sent", "delivered", "undelivered"):
            return str(attempt.get("provider") or "none")
    return "none"


def _region_of(e164: str) -> str:
    try:
        return parse_phone(e164, "ZZ").region or ""
    except PhoneNumberError:
        return ""
