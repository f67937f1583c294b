"""The workflow due-queue in Redis: which verification's next fallback step is due when.

A sorted set (`keys.workflow_due_key`: verification id -> due time in ms on the store's
clock) and a hash (`keys.workflow_steps_key`: verification id -> the workflow as JSON) in
one slot. Workers claim due entries with one script (`workflow_claim.lua`) that leases
them, so that any number of workers and instances share the queue and each due entry is
taken by one of them; a step itself is taken in the verification's own slot
(`workflow_step.lua`), at most once, which covers a worker that died holding a lease.
Everything survives a restart of the service: the queue is Redis, not a timer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from verify_service.domain.channels import WorkflowStep
from verify_service.store import keys
from verify_service.store.records import StoredVerification
from verify_service.store.scripts import Scripts
from verify_service.store.verifications import Store, store_call

_WHAT = "the workflow queue"

StepOutcome = Literal["ok", "not_found", "not_pending", "expired", "stale", "max_send_attempts"]
AdvanceOutcome = Literal["gone", "stale", "done", "due", "moved"]


@dataclass(frozen=True, slots=True)
class WorkflowEntry:
    """One verification's workflow as queued: `next` is the index of the step that runs
    when the entry comes due (0 is the step the start itself sent). `locale` is what the
    start asked for (its `locale`, else the Accept-Language preferences), so that every
    step speaks the same language; `token_type`/`token_length` shape each new code."""

    verification_id: str
    service: str
    steps: tuple[WorkflowStep, ...]
    next: int
    token_type: str
    token_length: int
    expires_in: int  # seconds each step's code lives, as the start's
    locale: tuple[str, ...] = ()
    template: str | None = None  # the start's own template, if it gave one

    def to_json(self) -> str:
        return json.dumps(
            {
                "service": self.service,
                "steps": [s.to_json() for s in self.steps],
                "next": self.next,
                "token_type": self.token_type,
                "token_length": self.token_length,
                "expires_in": self.expires_in,
                "locale": list(self.locale),
                "template": self.template,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, verification_id: str, raw: str) -> WorkflowEntry:
        data = json.loads(raw)
        return cls(
            verification_id=verification_id,
            service=str(data["service"]),
            steps=tuple(WorkflowStep(s["channel"], s.get("timeout")) for s in data["steps"]),
            next=int(data["next"]),
            token_type=str(data["token_type"]),
            token_length=int(data["token_length"]),
            expires_in=int(data["expires_in"]),
            locale=tuple(data.get("locale") or ()),
            template=data.get("template"),
        )


@dataclass(frozen=True, slots=True)
class StepTaken:
    outcome: StepOutcome
    record: StoredVerification | None


class WorkflowQueue:
    """The due-queue, and the one verification script a workflow step needs. Every call
    raises VerifyError(store_unavailable) when Redis does not answer in time."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._scripts = Scripts(store.client)

    @property
    def _queue_keys(self) -> list[str]:
        return [keys.workflow_due_key(), keys.workflow_steps_key()]

    async def _run(self, name: str, keys_: list[str], *args: Any) -> Any:
        with store_call(self._store.deadline, what=_WHAT):
            return await self._scripts.run(name, keys_, [self._store.clock_offset_ms, *args])

    async def schedule(self, entry: WorkflowEntry, delay_s: int) -> bool:
        """Queue `entry` to come due in `delay_s` seconds; False when the verification
        has a workflow queued already (it keeps that one)."""
        reply = await self._run(
            "workflow_schedule",
            self._queue_keys,
            entry.verification_id,
            entry.to_json(),
            delay_s * 1000,
        )
        return bool(reply == "scheduled")

    async def claim(self, limit: int, lease_s: float) -> list[WorkflowEntry]:
        """Up to `limit` due entries, each leased to the caller for `lease_s` seconds."""
        flat: Sequence[str] = await self._run(
            "workflow_claim", self._queue_keys, limit, int(lease_s * 1000)
        )
        return [WorkflowEntry.from_json(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]

    async def advance(
        self, verification_id: str, expected: int, next_step: int | None, delay_s: float = 0
    ) -> AdvanceOutcome:
        """After step `expected`: queue step `next_step` in `delay_s` seconds, or end the
        workflow (`next_step` None). Does nothing ('stale') when the entry no longer waits
        for `expected`, nor ('gone') when it has left the queue."""
        reply = await self._run(
            "workflow_advance",
            self._queue_keys,
            verification_id,
            expected,
            -1 if next_step is None else next_step,
            int(delay_s * 1000),
        )
        return str(reply)  # type: ignore[return-value]

    async def due_now(self, verification_id: str, expected: int) -> bool:
        """Make the waiting step `expected` due at once (an undelivered report)."""
        reply = await self._run(
            "workflow_advance", self._queue_keys, verification_id, expected, expected, -1
        )
        return bool(reply == "due")

    async def entry(self, verification_id: str) -> WorkflowEntry | None:
        with store_call(self._store.deadline, what=_WHAT):
            raw = await self._store.client.hget(keys.workflow_steps_key(), verification_id)
        return None if raw is None else WorkflowEntry.from_json(verification_id, str(raw))

    async def due_at_ms(self, verification_id: str) -> int | None:
        """When the entry comes due (ms on the store's clock); None when not queued."""
        with store_call(self._store.deadline, what=_WHAT):
            score = await self._store.client.zscore(keys.workflow_due_key(), verification_id)
        return None if score is None else int(score)

    async def verification_of(self, provider: str, message_id: str) -> str | None:
        """The verification a provider's message was sent for (the delivery-report index)."""
        with store_call(self._store.deadline, what=_WHAT):
            found = await self._store.client.get(keys.message_key(provider, message_id))
        return found if isinstance(found, str) else None

    async def take_step(
        self,
        *,
        tag: str,
        service: str,
        verification_id: str,
        step: int,
        expires_in: int,
        retention: int,
    ) -> StepTaken:
        """Reserve the send of workflow step `step` on the verification, once (see
        workflow_step.lua): `ok` with the record as it now stands, else why not. The
        code's hash is stored with the send's outcome (`Store.record_sends`)."""
        reply = await self._run(
            "workflow_step",
            [keys.prefix(tag)],
            service,
            verification_id,
            step,
            expires_in,
            retention,
        )
        outcome: StepOutcome = reply[0]
        record = StoredVerification.from_reply(reply[1], reply[2:]) if len(reply) > 1 else None
        return StepTaken(outcome, record)
