"""Fallback workflows: when a verification is still pending after its step's timeout, or
the step's message is reported undelivered, send a new code on the next channel.

A start with more than one step queues its workflow (`schedule`); every worker of every
instance runs `run`, a loop that claims due entries from the Redis due-queue
(store/workflows.py) and takes their step. A step is taken at most once per verification
(`workflow_step.lua` checks and records it in the verification's own slot), however many
workers see the entry, and only while the verification is pending: an approval, a cancel,
an expiry or a failure ends the workflow. Each step is a resend in all but channel: a new
code with the expiry of the start, its sends recorded as `send_attempts` with their
channel, its rate limits and destination rules applied as for a start on that channel."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import anyio

from verify_service.abuse.policy import AbusePolicy
from verify_service.config import ServiceSettings, Settings
from verify_service.domain.channels import WorkflowStep, needs_phone
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import Status
from verify_service.domain.phones import PhoneNumberError, parse_phone
from verify_service.domain.tokens import TokenType, generate_token
from verify_service.observability import logs
from verify_service.store import Store, StoredVerification, keys
from verify_service.store.workflows import WorkflowEntry, WorkflowQueue
from verify_service.usecases import messages
from verify_service.usecases.messages import Wanted
from verify_service.usecases.verifications import Verifications, effective_status, to_verification

log = logging.getLogger("verify_service.workflows")

BATCH = 50  # due entries one claim takes
PARALLEL = 10  # steps one worker runs at once
LEASE_MARGIN = 30.0  # seconds a claim outlasts the longest send budget


class WorkflowSchedule:
    """Queues new workflows (what `Verifications.start` is given): the queue alone, so
    that the use cases and the runner below need not know each other to be built."""

    def __init__(self, queue: WorkflowQueue) -> None:
        self._queue = queue

    async def schedule(
        self,
        service: ServiceSettings,
        record: StoredVerification,
        steps: Sequence[WorkflowStep],
        wanted: Wanted,
        template: str | None,
    ) -> None:
        """Queue the steps after the first (which the start just sent). A failure to queue
        costs the fallback, not the start: the code is out, so it is logged, not raised."""
        locale = (wanted,) if isinstance(wanted, str) else tuple(wanted or ())
        entry = WorkflowEntry(
            verification_id=record.id,
            service=service.name,
            steps=tuple(steps),
            next=1,
            token_type=record.token_type,
            token_length=record.token_length,
            expires_in=max(1, (record.expires_at_ms - record.now_ms + 999) // 1000),
            locale=locale,
            template=template,
        )
        try:
            await self._queue.schedule(entry, steps[0].timeout or 0)
        except VerifyError:
            log.error(
                "workflow not queued: the store did not answer; no fallback for this one",
                extra={"verification_id": record.id},
            )


class Workflows:
    """Runs the due steps. Args:
    settings: the loaded config.
    store: the verification store (reads a verification before its step).
    queue: the due-queue.
    verifications: the use cases (hashing, delivery and its record, status events).
    abuse: destination rules and rate limits, applied to each step as to a start.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: WorkflowQueue,
        verifications: Verifications,
        abuse: AbusePolicy,
    ) -> None:
        self._settings = settings
        self._store = store
        self.queue = queue
        self._verifications = verifications
        self._abuse = abuse
        # A worker that claimed an entry holds it this long: longer than any step can take.
        self.lease = max(s.send_budget for s in settings.services) + LEASE_MARGIN

    @staticmethod
    def needed(settings: Settings) -> bool:
        """Whether any service can have a workflow (more than one channel enabled)."""
        return any(len(s.allowed_channels) > 1 for s in settings.services)

    async def run(self, poll_interval: float, stop: anyio.Event | None = None) -> None:
        """Poll the due-queue until `stop` is set (or the task is cancelled). The pause is
        jittered so that the workers of many instances spread their polls; a full batch is
        followed at once.

        The owner sets `stop` before it cancels: a cancellation alone can be lost. On
        CPython 3.11 `asyncio.wait_for` drops one that arrives in the loop turn where the
        awaited call ends (gh-86296, fixed in 3.12), and redis-py wraps every socket write
        in it; the poll then returned normally and polled on, and shutdown hung."""
        stop = stop or anyio.Event()
        while not stop.is_set():
            handled = 0
            try:
                handled = await self.tick()
            except VerifyError:
                log.warning("workflow queue: the store did not answer")
            except Exception:
                log.exception("workflow queue: a poll failed")
            if handled < BATCH:
                with anyio.move_on_after(poll_interval * random.uniform(0.5, 1.5)):  # noqa: S311
                    await stop.wait()

    async def tick(self) -> int:
        """Claim the due entries (up to BATCH) and take their steps; returns how many."""
        entries = await self.queue.claim(BATCH, self.lease)
        if not entries:
            return 0
        limiter = anyio.CapacityLimiter(PARALLEL)

        async def one(entry: WorkflowEntry) -> None:
            async with limiter:
                with logs.request_context(verification_id=entry.verification_id):
                    try:
                        await self.step(entry)
                    except VerifyError as exc:
                        # The lease runs out and the entry comes due again: a retry.
                        log.warning("workflow step postponed: %s", exc.code)
                    except Exception:
                        log.exception("workflow step failed")

        async with anyio.create_task_group() as group:
            for entry in entries:
                group.start_soon(one, entry)
        return len(entries)

    async def step(self, entry: WorkflowEntry) -> None:
        """Take the step `entry.next` of one claimed entry, then queue the one after it
        (its timeout from now; at once when this step's send failed) or end the workflow."""
        vid, index = entry.verification_id, entry.next
        try:
            service = self._settings.service(entry.service)
        except KeyError:  # the service left the config since the start
            await self.queue.advance(vid, index, None)
            return
        tag = keys.tag_of_id(vid)
        if tag is None or index >= len(entry.steps):
            await self.queue.advance(vid, index, None)
            return
        step = entry.steps[index]
        found = await self._store.fetch(tag=tag, service=service.name, verification_id=vid)
        record = found.record
        if record is None or effective_status(record) != Status.PENDING:
            await self.queue.advance(vid, index, None)
            return
        if step.channel not in service.allowed_channels or not await self._allowed(
            service, record.to, step.channel
        ):
            await self._after(entry, sent=False)
            return

        taken = await self.queue.take_step(
            tag=tag,
            service=service.name,
            verification_id=vid,
            step=index,
            expires_in=entry.expires_in,
            retention=self._settings.retention,
        )
        if taken.outcome == "stale":
            return  # another worker took this step; it queues the next one
        if taken.outcome != "ok" or taken.record is None:
            if taken.outcome == "expired" and taken.record is not None:
                verification = to_verification(taken.record)
                self._verifications.status_changed(service, verification, Status.EXPIRED)
            await self.queue.advance(vid, index, None)
            return
        # The step is ours: only now the code and its hash (a refused step costs none).
        code = generate_token(TokenType(entry.token_type), entry.token_length)
        logs.sensitive(code)
        code_hash = await self._verifications.hash_code(code, tag)
        message = messages.compose(
            service,
            step.channel,
            code,
            to=record.to,
            reference=f"{vid}.{taken.record.send_count}",
            wanted=entry.locale or None,
            template=entry.template,
        )
        delivery = await self._verifications.deliver(service, message)
        recorded = await self._verifications.record_delivery(
            tag,
            taken.record,
            delivery,
            code_hash,
            step.channel,
            # Each code keeps its own expiry (README "Checking a code"), on Redis's clock.
            taken.record.now_ms + entry.expires_in * 1000,
        )
        log.info(
            "workflow step %d: %s %s",
            index + 1,
            step.channel,
            "sent" if delivery.sent else "not sent",
            extra={"service": service.name, "channel": step.channel},
        )
        if recorded.record is not None and recorded.record.status == Status.FAILED:
            verification = to_verification(recorded.record)
            self._verifications.status_changed(service, verification, Status.FAILED)
            await self.queue.advance(vid, index, None)
            return
        await self._after(entry, sent=delivery.sent)

    async def _after(self, entry: WorkflowEntry, *, sent: bool) -> None:
        index = entry.next
        if index + 1 >= len(entry.steps):
            await self.queue.advance(entry.verification_id, index, None)
            return
        delay = (entry.steps[index].timeout or 0) if sent else 0
        await self.queue.advance(entry.verification_id, index, index + 1, delay)

    async def _allowed(self, service: ServiceSettings, to: str, channel: str) -> bool:
        """Destination rules and rate limits for this step, as for a start on its channel
        (a refusal skips the step: the next channel may be allowed)."""
        try:
            phone = None
            if needs_phone(channel):
                phone = parse_phone(to, self._settings.default_region)
                self._abuse.check_destination(service, phone, channel)
            await self._abuse.before_send(service, phone, None, channel, to)
        except (VerifyError, PhoneNumberError) as exc:
            log.info(
                "workflow step on %s skipped: %s",
                channel,
                getattr(exc, "code", "invalid_phone_number"),
                extra={"service": service.name, "channel": channel},
            )
            return False
        return True

    async def undelivered(self, provider: str, message_id: str) -> bool:
        """A delivery report said `message_id` of `provider` did not arrive: if it is the
        latest message of a verification whose workflow waits for its next step, that step
        comes due now. Returns whether it did."""
        vid = await self.queue.verification_of(provider, message_id)
        entry = None if vid is None else await self.queue.entry(vid)
        tag = None if vid is None else keys.tag_of_id(vid)
        if vid is None or entry is None or tag is None:
            return False
        found = await self._store.fetch(tag=tag, service=entry.service, verification_id=vid)
        if found.record is None:
            return False
        sent = [a for a in found.record.sends if a.get("status") != "failed"]
        latest = sent[-1] if sent else None
        if latest is None or (latest.get("provider"), latest.get("message_id")) != (
            provider,
            message_id,
        ):
            return False  # a later message is out; its own report or timeout decides
        return await self.queue.due_now(vid, entry.next)
