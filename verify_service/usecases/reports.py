"""Delivery reports (DLR): a provider tells us later whether a message reached the phone.

A report changes the send attempt it is about (`sent` -> `delivered` / `undelivered`),
never the verification's status: it is information for the caller, not a state. The
attempt log's record of that send gets the same status, the provider's error code and
the time of the report (`Attempts.reported`: one more store call per batch and service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from verify_service.domain.attempts import AttemptStatus
from verify_service.providers.base import DeliveryReport
from verify_service.store import Store
from verify_service.store.attempts import DeliveryUpdate
from verify_service.usecases.observer import VerificationObserver

if TYPE_CHECKING:
    from verify_service.usecases.attempts import Attempts


class DeliveryReports:
    """`undelivered(provider, message_id)` is told of each message newly reported
    undelivered (the workflow runner moves on to the next channel); `attempts` (the
    attempt log) of each report that changed a send attempt."""

    def __init__(
        self,
        store: Store,
        observer: VerificationObserver,
        *,
        undelivered: Callable[[str, str], Awaitable[bool]] | None = None,
        attempts: Attempts | None = None,
    ) -> None:
        self._store = store
        self._observer = observer
        self._undelivered = undelivered
        self._attempts = attempts

    async def apply(self, provider: str, reports: Sequence[DeliveryReport]) -> int:
        """Mark the send attempts the reports of `provider` are about; returns how many
        changed. Reports of messages we do not know (not ours, or long gone) are ignored on
        purpose: an error would only make the provider send them again and again.
        Raises VerifyError(store_unavailable) when the store does not answer."""
        wanted = [r for r in reports if r.status in ("delivered", "undelivered")]
        applied = await self._store.apply_reports(
            provider, [(r.message_id, r.status, r.detail) for r in wanted]
        )
        logged: list[tuple[str, DeliveryUpdate]] = []
        for report, outcome in zip(wanted, applied, strict=True):
            self._observer.report_applied(provider, report.status, outcome.outcome)
            if outcome.outcome != "changed":
                continue
            if self._undelivered and report.status == "undelivered":
                await self._undelivered(provider, report.message_id)
            if outcome.sent_at_ms is not None:
                status: AttemptStatus = (
                    "delivered" if report.status == "delivered" else "undelivered"
                )
                code = report.detail if status == "undelivered" else None
                update = DeliveryUpdate(
                    outcome.verification_id, provider, outcome.sent_at_ms, status, code
                )
                logged.append((outcome.service, update))
        if self._attempts is not None and logged:
            await self._attempts.reported(logged)
        return sum(outcome.outcome == "changed" for outcome in applied)
