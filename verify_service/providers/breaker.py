"""A circuit breaker per provider instance: after `threshold` consecutive failures the
provider is skipped without a request for `cooldown` seconds, then one probe goes through
(half-open); its outcome closes the breaker or opens it for another cool-down.

The state is in-process on purpose. It only exists to spare this process's requests the
latency of a provider that is down; each worker learns that within `threshold` sends, and
the cost of being wrong is a few slow requests, not wrong answers. Sharing it through Redis
would add a round trip to every send and make providers depend on the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(slots=True)
class Breaker:
    threshold: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.probing or self.clock() - self.opened_at >= self.cooldown:
            return HALF_OPEN
        return OPEN

    def available(self) -> bool:
        """Whether a send would be let through now (without claiming the probe)."""
        state = self.state
        return state == CLOSED or (state == HALF_OPEN and not self.probing)

    def acquire(self) -> bool:
        """Ask to send. In half-open state only the first caller gets through (the probe);
        the event loop runs this without an await in between, so no lock is needed."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failed(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False

    def trip(self) -> None:
        """Open now, whatever the count: the provider said it cannot send for a while
        (quota, credits, account), so waiting for `threshold` failures only wastes sends."""
        self.failures = max(self.failures + 1, self.threshold)
        self.opened_at = self.clock()
        self.probing = False

    def abandoned(self) -> None:
        """The send was cancelled before it had an outcome: free the probe for another."""
        self.probing = False
