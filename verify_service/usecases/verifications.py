"""The use cases: start, check, fetch, cancel, approve. No HTTP and no Redis details here:
this is where the rules live, on top of `domain`, `store` and `providers`.

Everything this needs is built by the composition root (`api.app`) and handed in; what
happens is told to a `VerificationObserver` (metrics) and to `StatusEvents` (callbacks)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio

from verify_service.abuse.policy import AbusePolicy
from verify_service.config import ServiceSettings, Settings
from verify_service.domain import locales, templates, tokens
from verify_service.domain.channels import (
    AddressError,
    looks_like_email,
    needs_phone,
    normalize_email,
)
from verify_service.domain.errors import VerifyError
from verify_service.domain.hashing import CodeHasher
from verify_service.domain.model import (
    CheckResult,
    SendAttempt,
    StartParams,
    Status,
    TokenType,
    Verification,
)
from verify_service.domain.phones import PhoneNumber, PhoneNumberError, parse_phone
from verify_service.domain.tokens import generate_token, normalize_code
from verify_service.observability import logs
from verify_service.providers.base import (
    OutgoingMessage,
    Provider,
    TokenRequest,
    TokenValidator,
    token_validator_of,
)
from verify_service.providers.metered import SendOutcome
from verify_service.providers.router import Delivery, Router
from verify_service.store import Store, StoredVerification, keys
from verify_service.store.scripts import Call
from verify_service.store.verifications import ScriptOutcome
from verify_service.usecases import delegation, idempotency, messages
from verify_service.usecases.attempts import Attempts
from verify_service.usecases.channels import WorkflowScheduler, channel_plan
from verify_service.usecases.hash_threads import run_in_hash_thread
from verify_service.usecases.observer import VerificationObserver
from verify_service.webhooks.callbacks import StatusEvents

T = TypeVar("T")

# Bounds of a check's wait for the checks in flight (seconds, see Verifications._wait_limit).
WAIT_MIN = 0.25
WAIT_MAX = 5.0


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def effective_status(record: StoredVerification) -> Status:
    """The stored status, with expiry and exhaustion judged on Redis's clock."""
    if record.status == Status.PENDING:
        if record.now_ms >= record.expires_at_ms:
            return Status.EXPIRED
        if record.check_attempts >= record.max_check_attempts:
            return Status.MAX_ATTEMPTS_REACHED
    return Status(record.status)


def to_verification(record: StoredVerification) -> Verification:
    status = effective_status(record)
    remaining = record.max_check_attempts - record.check_attempts if status == "pending" else 0
    sends = tuple([SendAttempt.from_json(a) for a in record.sends])  # no generator frame
    return Verification(
        id=record.id,
        service=record.service,
        to=record.to,
        # A workflow or a resend may have moved on to another channel: the latest send's.
        channel=sends[-1].channel if sends else record.channel,
        status=status,
        token_type=TokenType(record.token_type),
        token_length=record.token_length,
        created_at=_time(record.created_at_ms),
        expires_at=_time(record.expires_at_ms),
        check_attempts=record.check_attempts,
        max_check_attempts=record.max_check_attempts,
        attempts_remaining=max(0, remaining),
        send_attempts=sends,
        metadata=record.metadata,
        updated_at=_time(record.updated_at_ms),
    )


class Verifications:
    """The use cases of one app. Every method takes the calling service's settings and
    raises `VerifyError` (see `domain.errors` for the codes) for whatever the caller can
    fix or retry; `store_unavailable` when Redis does not answer in time.

    Args:
        settings: the loaded config.
        store: where verifications live.
        hasher: argon2id with the pepper, for codes.
        providers: every configured provider by name, as built (whether a service's
            provider makes and checks codes itself is read from these).
        senders: the same providers as the router is to call them (timed for metrics).
        router: retries, failover and circuit breakers across a service's senders.
        events: the status-callback queue.
        abuse: rate limits, destination rules, test numbers, pumping guard.
        observer: told of status changes, checks, sends and refusals.
        attempts: the attempt log, told of sends, refused starts and approvals.
        hash_threads: most argon2 runs at once in this process.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hasher: CodeHasher,
        *,
        providers: Mapping[str, Provider],
        senders: Mapping[str, Provider],
        router: Router,
        events: StatusEvents,
        abuse: AbusePolicy,
        observer: VerificationObserver,
        attempts: Attempts,
        hash_threads: int | None = None,
        workflows: WorkflowScheduler | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._hasher = hasher
        self._providers = providers
        self._senders = senders
        self._router = router
        self._events = events
        self._abuse = abuse
        self._observer = observer
        self._attempts = attempts
        self._workflows = workflows
        # Whether a service's provider makes and checks the codes itself is fixed by the
        # config: decided once here, not on every start and check. The providers themselves,
        # not their timing wrappers: the test is on their type.
        self._validators: dict[str, TokenValidator | None] = {
            service.name: token_validator_of(
                service.name, [providers[name] for name in service.providers]
            )
            for service in settings.services
        }
        # Keys the tag in ids (store/keys.py): derived once, as the secret may be random.
        self._tag_key = keys.tag_key(settings.id_secret())
        self._hash_threads = hash_threads or os.cpu_count() or 1
        # Recent wall time of a check's argon2 run, queueing included (seconds): a moving
        # average, started at a production hash's order of magnitude.
        self._hash_seconds = 0.1

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        # argon2 is CPU- and memory-bound: run it in worker threads (it releases the GIL),
        # at most one per core so that a burst of checks queues instead of thrashing.
        return await run_in_hash_thread(self._hash_threads, fn, *args)

    def _phone(self, raw: str) -> PhoneNumber:
        try:
            return parse_phone(raw, self._settings.default_region)
        except PhoneNumberError as exc:
            raise VerifyError("invalid_phone_number", str(exc)) from None

    def _address(self, raw: str, channel: str) -> tuple[str, PhoneNumber | None]:
        """`to` for `channel`: (E.164, the parsed number) or (the normalised email, None).
        Raises VerifyError: invalid_phone_number, invalid_email_address."""
        if needs_phone(channel):
            if looks_like_email(raw):
                raise VerifyError(
                    "invalid_phone_number",
                    f"the {channel} channel sends to a phone number, not an email address",
                )
            phone = self._phone(raw)
            return phone.e164, phone
        if not looks_like_email(raw):
            raise VerifyError(
                "invalid_email_address",
                f"the {channel} channel sends to an email address, not a phone number",
            )
        try:
            return normalize_email(raw), None
        except AddressError as exc:
            raise VerifyError("invalid_email_address", str(exc)) from None

    async def hash_code(self, code: str, tag: str) -> str:
        """The argon2id hash of `code` for the verification tag `tag`, in a worker thread."""
        return await self._in_thread(self._hasher.hash, code, tag)

    # --- start ---------------------------------------------------------------------------

    async def start(self, service: ServiceSettings, params: StartParams) -> Verification:
        """`_start`, and a start refused by abuse protection goes into the attempt log."""
        try:
            return await self._start(service, params)
        except VerifyError as exc:
            await self._attempts.refused(service, params, exc)
            raise

    async def _start(self, service: ServiceSettings, params: StartParams) -> Verification:
        """Start a verification of `params.to`, or resend the code of its pending one, and
        send the code. Returns the verification as it stands after the send.

        Raises VerifyError: invalid_phone_number, invalid_email_address, channel_not_allowed,
        invalid_request (token length outside the service's range, a bad workflow),
        invalid_template, a destination or rate-limit refusal (country_blocked,
        rate_limited, fraud_suspected, ...), resend_too_soon, max_send_attempts,
        provider_unavailable (no provider took the code)."""
        steps = channel_plan(service, params.channel, params.workflow)
        channel = steps[0].channel
        to, phone = self._address(params.to, channel)
        if phone is not None:
            self._abuse.check_destination(service, phone, channel)
        token_type = params.token_type or service.token_type
        length = params.token_length or service.token_length
        if not service.min_token_length <= length <= service.max_token_length:
            raise VerifyError(
                "invalid_request",
                f"token_length must be {service.min_token_length}-{service.max_token_length} "
                "for this service",
            )
        template = params.template
        expires_in = params.expires_in or service.expires_in
        if template is not None:
            try:
                templates.validate_template(template)
            except templates.TemplateError as exc:
                raise VerifyError("invalid_template", str(exc)) from None
            # The service's own templates were checked at start-up for the longest code.
            too_long = service.segments_problem(template, length) if channel == "sms" else None
            if too_long is not None:
                raise VerifyError("invalid_template", too_long)
        # An explicit `locale` wins; else the caller's Accept-Language preferences.
        wanted = params.locale or locales.parse_accept_language(params.accept_language)
        if template is None:
            template = templates.choose_template(service.template, service.templates, wanted)

        test_code = self._abuse.test_code(service, to) if phone is not None else None
        if test_code is None:
            checks = self._abuse.send_checks(service, phone, params.client_ip, channel, to)
        else:
            assert phone is not None  # test codes are of phone numbers
            # The fixed code is of the service's type (checked when the config loads).
            token_type = service.token_type
            # Nothing is sent, but the per-client and per-number limits still hold.
            checks = self._abuse.test_number_checks(service, phone, params.client_ip)
        validator = None if test_code else self._validator_of(service)
        tag = keys.tag_for(self._tag_key, service.name, to)

        # The cooldown and send limits first, and only then the code and its argon2 hash:
        # a refused start costs one round trip, no hash (issue 15: refused starts in a loop
        # otherwise take a core per ~60 requests/s away from everyone's checks). The abuse
        # checks run ahead of it in the same round trip (`Store.start`), in their order.
        started = await self._store.start(
            tag=tag,
            new_id=keys.new_id(tag),
            service=service.name,
            to=to,
            expires_in=expires_in,
            max_check_attempts=service.max_check_attempts,
            max_send_attempts=service.max_send_attempts,
            resend_cooldown=service.resend_cooldown,
            retention=self._settings.retention,
            token_type=token_type.value,
            token_length=len(test_code) if test_code else length,
            channel=channel,
            metadata=dict(params.metadata or {}),
            checks=checks.calls,
        )
        checks.judge(started.checks)  # raises the refusal of a check that stopped it
        region = (phone.region or "") if phone is not None else ""
        if started.record is None:
            self._observer.blocked(service.name, started.outcome, region)
            raise VerifyError(
                started.outcome,
                "wait before requesting another code"
                if started.outcome == "resend_too_soon"
                else "no more codes can be sent for this verification",
                retry_after=started.retry_after,
            )
        record = started.record
        created = started.outcome == "created"
        # A resend is of the pending verification's own type and length (README "Checking
        # a code"), whatever this request asked: the code is drawn in the record's shape.
        token_type, length = TokenType(record.token_type), record.token_length
        # A caller's template was checked for the asked length; a resend of another length
        # is checked here (test numbers send nothing). The send stays reserved, as for one
        # no provider took.
        if params.template and test_code is None and not created:
            too_long = service.segments_problem(params.template, length)
            if too_long is not None:
                raise VerifyError("invalid_template", too_long)
        # The code's own expiry, on Redis's clock: the reservation's time + expires_in.
        code_expires_at_ms = record.now_ms + expires_in * 1000
        # Delegated mode: the provider makes the code; we keep a marker instead of a hash.
        code = test_code or ("" if validator else generate_token(token_type, length))
        logs.sensitive(code)
        code_hash = delegation.marker() if validator else await self.hash_code(code, tag)
        if test_code is not None:
            # Test numbers never reach a provider (no cost, no pumping); the fixed code works.
            stored = await self._store.record_sends(
                tag=tag,
                verification_id=record.id,
                attempts=[],
                sent=True,
                code_hash=code_hash,
                retention=self._settings.retention,
                code_expires_at_ms=code_expires_at_ms,
                base=record,
            )
            verification = to_verification(stored.record or record)
            if created:
                self._status_changed(service, verification, Status.PENDING, region)
            return verification

        reference = f"{record.id}.{record.send_count}"
        if validator is not None:
            request = TokenRequest(to, template, token_type.value, length, expires_in, reference)
            delivery = await delegation.start(validator, request)
            # The validator is not wrapped for timing (it is not a plain sender): count here.
            for attempt in delivery.attempts:
                outcome: SendOutcome = "sent" if attempt.status == "sent" else "permanent_error"
                self._observer.send_observed(attempt.provider, outcome, None)
        else:
            message = messages.compose(
                service,
                channel,
                code,
                to=to,
                reference=reference,
                wanted=wanted,
                template=params.template,
            )
            delivery = await self.deliver(service, message)
        # The attempt log (phone channels) is written with the send record: no round trip
        # of its own, and before a delivery report can find the message.
        attempt_log = (
            self._attempts.send_records(
                service,
                phone,
                tag=tag,
                channel=channel,
                verification_id=record.id,
                attempts=delivery.attempts,
                template=template,
                token_length=length,
                created=created,
            )
            if phone is not None
            else None
        )
        recorded = await self.record_delivery(
            tag, record, delivery, code_hash, channel, code_expires_at_ms, attempt_log
        )
        if attempt_log is not None and recorded.side:
            self._attempts.written(service, recorded.side[0])
        # read once: the status change and the answer are of the same record
        after = to_verification(recorded.record) if recorded.record is not None else None
        if after is not None and created:
            self._status_changed(service, after, Status.PENDING, region)
        if not delivery.sent:
            if after is not None and after.status == Status.FAILED:
                self._status_changed(service, after, Status.FAILED, region)
            if delivery.recipient_invalid:
                what = "phone_number" if phone is not None else "email_address"
                raise VerifyError(
                    f"invalid_{what}",
                    f"the {channel} provider refused this address ({delivery.reason})",
                )
            reasons = "; ".join(f"{a.provider}: {a.error}" for a in delivery.attempts)
            raise VerifyError("provider_unavailable", reasons or "no provider configured")
        assert recorded.record is not None
        assert after is not None
        if created and len(steps) > 1 and self._workflows is not None:
            await self._workflows.schedule(service, recorded.record, steps, wanted, params.template)
        return after

    async def deliver(self, service: ServiceSettings, message: OutgoingMessage) -> Delivery:
        """Send `message` through the providers of its channel (retries, failover,
        breakers); counts the providers that were skipped without a try."""
        delivery = await self._router.deliver(
            self._providers_of(service, message.channel), message, budget=service.send_budget
        )
        # Tried sends are timed and counted by MeteredProvider; these were never tried.
        for attempt in delivery.attempts:
            if attempt.seconds is None:  # breaker open or no time left
                self._observer.send_observed(attempt.provider, "skipped", None)
        return delivery

    async def record_delivery(
        self,
        tag: str,
        record: StoredVerification,
        delivery: Delivery,
        code_hash: str,
        channel: str,
        code_expires_at_ms: int,
        attempt_log: Call | None = None,
    ) -> ScriptOutcome:
        """Record a delivery's attempts (each with its channel) on the verification, with
        the code's hash and its own expiry (ms, Redis clock), and index its message ids for
        delivery reports; with `attempt_log`, the attempt log's write of the same delivery
        (`Attempts.send_records`; its reply in `side`)."""
        return await self._store.record_sends(
            tag=tag,
            verification_id=record.id,
            attempts=[a.record(channel).to_json() for a in delivery.attempts],
            sent=delivery.sent,
            code_hash=code_hash,
            retention=self._settings.retention,
            code_expires_at_ms=code_expires_at_ms,
            message_ids=[
                (a.provider, a.message_id)
                for a in delivery.attempts
                if a.status == "sent" and a.message_id
            ],
            # Reports can come while the verification is readable: its lifetime (the later of
            # its end so far and this code's) + retention.
            index_ttl_ms=max(record.expires_at_ms, code_expires_at_ms)
            - record.now_ms
            + self._settings.retention * 1000,
            base=record,  # a reply of what the send changed, not the whole record
            attempt_log=attempt_log,
        )

    async def start_idempotent(
        self, service: ServiceSettings, idempotency_key: str, body: bytes, params: StartParams
    ) -> Verification:
        """`start`, once per `Idempotency-Key`: see `usecases.idempotency.start_once`."""
        return await idempotency.start_once(
            self._store,
            service.name,
            idempotency_key,
            body,
            lambda: self.start(service, params),
        )

    def _providers_of(self, service: ServiceSettings, channel: str = "sms") -> Sequence[Provider]:
        return [self._senders[name] for name in service.providers_for(channel)]

    def status_changed(
        self, service: ServiceSettings, verification: Verification, status: Status
    ) -> None:
        """Tell the observer and the status events (for changes made outside this class:
        a workflow step that failed the verification)."""
        self._status_changed(service, verification, status)

    def _status_changed(
        self,
        service: ServiceSettings,
        verification: Verification,
        status: Status,
        region: str | None = None,
    ) -> None:
        """One place for everything a status change sets off: the observer (told the
        provider that carried the code, for conversion by provider and country) and the
        status event. Callers that have parsed the number pass its region: one parse less."""
        test_number = verification.to in service.test_numbers
        provider = "test_number" if test_number else _sender(verification.send_attempts)
        country = _region_of(verification.to) if region is None else region
        self._observer.status_changed(service.name, provider, country, status)
        if service.status_callback_url and service.status_callback_secret is not None:
            self._events.emit(
                service=service.name,
                url=service.status_callback_url,
                secret=service.status_callback_secret.get_secret_value(),
                verification=idempotency.verification_to_json(verification),
                status=status.value,
            )

    def _validator_of(self, service: ServiceSettings) -> TokenValidator | None:
        return self._validators[service.name]

    # --- check ---------------------------------------------------------------------------

    def _tag(self, service: ServiceSettings, to: str | None, verification_id: str | None) -> str:
        if verification_id is not None:
            tag = keys.tag_of_id(verification_id)
            if tag is None:
                raise VerifyError("verification_not_found", "no verification with this id")
            return tag
        if to is None:
            raise VerifyError("invalid_request", "give either `to` or `verification_id`")
        channel = "email" if looks_like_email(to) else "sms"
        return keys.tag_for(self._tag_key, service.name, self._address(to, channel)[0])

    async def check(
        self,
        service: ServiceSettings,
        *,
        code: str,
        to: str | None = None,
        verification_id: str | None = None,
        client_ip: str | None = None,
        uniform_time: bool = False,
    ) -> CheckResult:
        """Check `code` against the verification `verification_id`, or else the latest one
        of the number `to`. Every check counts one attempt, reserved before the code is
        compared, so that parallel checks cannot exceed the attempt limit.

        The code is normalised first (`domain.tokens.normalize_code`); one that cannot be a
        code of the verification's type and length is answered as wrong (`pending`,
        `valid` false) and spends no attempt. A check that finds every remaining attempt
        in flight waits for those checks (about a hash time, `_wait_limit`) and answers
        what the verification became, never a lockout that does not happen. Each check of
        a code runs argon2 once; with `uniform_time` (for a dialect whose answer hides
        whether the number has a pending verification) so does every other answer, so that
        the timing hides it too.

        Raises VerifyError: invalid_request (neither `to` nor an id), invalid_phone_number,
        verification_not_found, rate_limited (checks per client), provider_unavailable (a
        delegating provider could not answer; the attempt stays counted)."""
        logs.sensitive(code)
        await self._abuse.before_check(service, client_ip)
        tag = self._tag(service, to, verification_id)
        # A delegating provider has its own token rules: only it can judge the code.
        delegated = self._validator_of(service) is not None
        reserved = await self._store.reserve(
            tag=tag,
            service=service.name,
            verification_id=verification_id,
            retention=self._settings.retention,
            shape=None if delegated else tokens.shape_of(code),
        )
        record = reserved.record
        if record is None:
            if uniform_time:
                await self._hash_once(code, tag)
            raise VerifyError("verification_not_found", "no verification for this number or id")
        if reserved.outcome == "reserved":
            return await self._verify(service, tag, record, code, uniform_time=uniform_time)
        if reserved.outcome == "exhausted":
            record = await self._outcome_of(service, tag, record)
        if uniform_time or reserved.outcome == "malformed":
            # A malformed code costs what a wrong one does: its timing tells nothing either.
            await self._hash_once(code, tag)
        verification = to_verification(record)
        if reserved.outcome == "malformed":
            self._observer.check_outcome(service.name, "malformed")
            return CheckResult(verification, Status.PENDING, False, verification.attempts_remaining)
        if reserved.outcome == "expired":
            self._status_changed(service, verification, Status.EXPIRED)
        self._observer.check_outcome(service.name, verification.status.value)
        return CheckResult(verification, verification.status, False, attempts_remaining=0)

    async def _verify(
        self,
        service: ServiceSettings,
        tag: str,
        record: StoredVerification,
        code: str,
        *,
        uniform_time: bool = False,
    ) -> CheckResult:
        """The check of a reserved attempt: compare, then record the end it makes."""
        if delegation.is_delegated(record.code_hashes):
            valid = await delegation.check(self._validator_of(service), record.to, code)
        else:
            candidate = normalize_code(TokenType(record.token_type), code)
            # Expired codes of the verification never match (each keeps its own expiry).
            live = record.live_code_hashes
            # the event loop's clock, as anyio.current_time() reads it, without the lookup
            # of the async backend
            loop = asyncio.get_running_loop()
            began = loop.time()
            if live:
                valid = await self._in_thread(self._hasher.matches, candidate, tag, live)
            else:
                valid = await self._hash_once(candidate, tag)
            elapsed = loop.time() - began
            self._hash_seconds += (elapsed - self._hash_seconds) / 8  # moving average
        remaining = record.max_check_attempts - record.check_attempts
        if valid:
            # What an approval sets off in Redis (the pumping guard's count, the attempt
            # log's conversion) runs with it, in its round trip (`Store.finish`), when it
            # is this check that approves; guarded: neither can fail or undo the approval.
            before = to_verification(record)
            # Read once for the guard's ranges and the approval's region (a check that comes
            # a while after its start finds neither kept).
            phone = _phone_of(record.to)
            counted = self._abuse.approval_call(service, record.to, before.channel, phone)
            converted = self._attempts.conversion_call(service, before)
            finished = await self._store.finish(
                tag=tag,
                verification_id=record.id,
                status=Status.APPROVED,
                retention=self._settings.retention,
                base=record,  # the reply: status, update time, attempts
                then=[call for call in (counted, converted) if call is not None],
            )
            assert finished.record is not None
            approved = finished.outcome == "changed"
            self._observer.check_outcome(service.name, "valid" if approved else "replayed")
            verification = to_verification(finished.record)
            if approved:
                region = _region(phone)
                self._status_changed(service, verification, Status.APPROVED, region)
                if finished.side is None:  # a Cluster: one call each, after the approval
                    await self._abuse.approved(service, record.to, region, before.channel)
                    await self._attempts.converted(service, verification, region)
                else:
                    side = iter(finished.side)
                    if counted is not None:
                        self._abuse.approval_counted(service, next(side))
                    if converted is not None:
                        self._attempts.conversion_done(service, verification, next(side), region)
            return CheckResult(
                verification,
                verification.status,
                valid=approved,
                attempts_remaining=0 if approved else max(0, remaining),
            )
        self._observer.check_outcome(service.name, "invalid")
        if remaining <= 0 and not uniform_time:
            # Checks that reserved earlier attempts may still be comparing, a right code
            # among them: it was typed within the limit and must approve, not lose to this
            # later guess because this hash ended first. Wait for them as an exhausted check
            # does (`_outcome_of`). Not where timing must hide existence: that wait would
            # tell a pending number's last attempt apart from an unknown number's check.
            record = await self._outcome_of(service, tag, record)
            if record.status != Status.PENDING:
                verification = to_verification(record)
                return CheckResult(verification, verification.status, False, 0)
        if remaining <= 0:
            finished = await self._store.finish(
                tag=tag,
                verification_id=record.id,
                status=Status.MAX_ATTEMPTS_REACHED,
                retention=self._settings.retention,
                base=record,
            )
            verification = to_verification(finished.record or record)
            if finished.outcome == "changed":
                self._status_changed(service, verification, Status.MAX_ATTEMPTS_REACHED)
            # A parallel check with the right code may have approved it meanwhile: the
            # answer is what the verification became, not a lockout that did not happen.
            return CheckResult(verification, verification.status, valid=False, attempts_remaining=0)
        return CheckResult(
            to_verification(record), Status.PENDING, valid=False, attempts_remaining=remaining
        )

    async def _hash_once(self, code: str, tag: str) -> bool:
        """One argon2 run whose result is not used (always False): the work a check of a
        code does, for answers that must not be told apart from one by their timing."""
        await self._in_thread(self._hasher.hash, code, tag)
        return False

    def _wait_limit(self) -> float:
        """How long a check waits for the checks in flight (seconds): three times the
        recent hash time (moving average, queueing for a hash thread included), at least
        WAIT_MIN, at most WAIT_MAX. Normally the last of them ends the verification well
        within one hash time; the limit matters only if its process died meanwhile."""
        return min(WAIT_MAX, max(WAIT_MIN, 3 * self._hash_seconds))

    async def _outcome_of(
        self, service: ServiceSettings, tag: str, record: StoredVerification
    ) -> StoredVerification:
        """The verification once the checks holding its last attempts have ended it (the
        last of them always does: approved by a right code, else max_attempts_reached), or
        as it stands after `_wait_limit` (readers then derive max_attempts_reached)."""
        deadline = anyio.current_time() + self._wait_limit()
        delay = 0.002
        while record.status == Status.PENDING and effective_status(record) != Status.EXPIRED:
            if anyio.current_time() >= deadline:
                break
            await anyio.sleep(delay)
            delay = min(2 * delay, 0.05)
            found = await self._store.fetch(
                tag=tag, service=service.name, verification_id=record.id
            )
            if found.record is None:
                break
            record = found.record
        return record

    # --- fetch / cancel ------------------------------------------------------------------

    async def fetch(self, service: ServiceSettings, verification_id: str) -> Verification:
        tag = self._tag(service, None, verification_id)
        found = await self._store.fetch(
            tag=tag, service=service.name, verification_id=verification_id
        )
        if found.record is None:
            raise VerifyError("verification_not_found", "no verification with this id")
        return to_verification(found.record)

    async def cancel(self, service: ServiceSettings, verification_id: str) -> Verification:
        return await self._end_pending(service, verification_id, Status.CANCELED)

    async def approve(self, service: ServiceSettings, verification_id: str) -> Verification:
        """Approve without a code: the backend has verified the person some other way
        (Twilio's `Status=approved`). Only a pending, unexpired verification with attempts
        left can be approved; its code hashes are dropped so no later check approves."""
        return await self._end_pending(service, verification_id, Status.APPROVED)

    async def _end_pending(
        self, service: ServiceSettings, verification_id: str, status: Status
    ) -> Verification:
        """Move a pending verification to `status` in one store round trip (which answers
        `status` when it made the change, `expired` when it recorded the expiry)."""
        tag = self._tag(service, None, verification_id)
        result = await self._store.end_pending(
            tag=tag,
            service=service.name,
            verification_id=verification_id,
            status=status.value,
            retention=self._settings.retention,
        )
        if result.record is None:
            raise VerifyError("verification_not_found", "no verification with this id")
        verification = to_verification(result.record)
        if result.outcome == "expired":
            self._status_changed(service, verification, Status.EXPIRED)
        if result.outcome != status:
            raise VerifyError(
                "verification_not_pending",
                f"the verification is {verification.status}",
                extra={"verification_status": verification.status},
            )
        self._status_changed(service, verification, status)
        if status == Status.APPROVED:
            await self._attempts.converted(service, verification)
        return verification


def _sender(send_attempts: Sequence[SendAttempt]) -> str:
    """The provider that last took the code ("none" when no send succeeded)."""
    for attempt in reversed(send_attempts):
        if attempt.status in ("sent", "delivered", "undelivered"):
            return attempt.provider or "none"
    return "none"


def _region_of(e164: str) -> str:
    return _region(_phone_of(e164))


def _region(phone: PhoneNumber | None) -> str:
    """The metrics' region of a number ("" for an email address or no region)."""
    return (phone.region or "") if phone is not None else ""


def _phone_of(e164: str) -> PhoneNumber | None:
    """A stored `to` as a phone number; None for an email address or a number that no
    longer parses (phonenumbers' metadata changes)."""
    if looks_like_email(e164):
        return None
    try:
        return parse_phone(e164, "ZZ")
    except PhoneNumberError:
        return None
