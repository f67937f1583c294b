"""What the use cases tell the outside world about their work, for metrics and the like.

stamina's hook pattern (`stamina.instrumentation`): the core calls an observer at fixed
points and knows nothing of Prometheus; `observability.metrics.MetricsObserver` is the
implementation the app installs. Every method is called on the event loop, must be quick
and must not raise (a failing observer must not fail a start or a check)."""

from __future__ import annotations

from typing import Protocol

from verify_service.abuse.policy import AbuseObserver
from verify_service.domain.model import Status
from verify_service.providers.metered import SendOutcome


class VerificationObserver(AbuseObserver, Protocol):
    """The observation points of the use cases (and, inherited, of the abuse policy:
    `blocked`, `fraud_guard_tripped` and `fraud_operator_action`)."""

    def status_changed(self, service: str, provider: str, country: str, status: Status) -> None:
        """A verification entered `status`. `provider` is the one that last took the code
        (`none` if none did, `test_number` for test numbers); `country` is the ISO 3166
        region of the number ("" when unknown)."""

    def check_outcome(self, service: str, outcome: str) -> None:
        """One check ended: the code approved the verification (`valid`), was wrong
        (`invalid`), was right but another check had approved it first (`replayed`), or
        the verification's status (a `Status` value) refused the check."""

    def send_observed(self, provider: str, outcome: SendOutcome, seconds: float | None) -> None:
        """One send attempt: `seconds` the provider took, None when the time was not
        measured (a skip, or a delegating provider's start)."""

    def breaker_state(self, provider: str, state: str) -> None:
        """A provider's circuit breaker after its turn: closed, half_open or open."""

    def report_applied(self, provider: str, status: str, effect: str) -> None:
        """One delivery report (`delivered` or `undelivered`) and its effect on the send
        attempt: `changed`, `unchanged` or `unknown` (see `store.Store.apply_reports`)."""
