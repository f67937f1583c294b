"""Delivery reports (DLR): a provider tells us later whether a message reached the phone.

A report changes the send attempt it is about (`sent` -> `delivered` / `undelivered`),
never the verification's status: it is information for the caller, not a state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from verify_service.providers.base import DeliveryReport
from verify_service.store import Store
from verify_service.usecases.observer import VerificationObserver


class DeliveryReports:
    """`undelivered(provider, message_id)` is told of each message newly reported
    undelivered (the workflow runner moves on to the next channel)."""

    def __init__(
        self,
        store: Store,
        observer: VerificationObserver,
        *,
        undelivered: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> None:
        self._store = store
        self._observer = observer
        self._undelivered = undelivered

    async def apply(self, provider: str, reports: Sequence[DeliveryReport]) -> int:
        """Mark the send attempts the reports of `provider` are about; returns how many
        changed. Reports of messages we do not know (not ours, or long gone) are ignored on
        purpose: an error would only make the provider send them again and again.
        Raises VerifyError(store_unavailable) when the store does not answer."""
        wanted = [r for r in reports if r.status in ("delivered", "undelivered")]
        outcomes = await self._store.apply_reports(
            provider, [(r.message_id, r.status, r.detail) for r in wanted]
        )
        for report, outcome in zip(wanted, outcomes, strict=True):
            self._observer.report_applied(provider, report.status, outcome)
            if self._undelivered and outcome == "changed" and report.status == "undelivered":
                await self._undelivered(provider, report.message_id)
        return outcomes.count("changed")
