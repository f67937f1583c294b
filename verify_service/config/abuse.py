"""Per-service abuse settings: rate limits in the `limits` string notation and the SMS
pumping guard. Parsed at start-up so that a typo fails before the first request."""

from __future__ import annotations

from typing import Literal

import limits
from pydantic import BaseModel, ConfigDict, Field, field_validator

Strategy = Literal["auto", "moving-window", "fixed-window", "sliding-window-counter"]


def parse_limits(values: list[str]) -> list[limits.RateLimitItem]:
    items: list[limits.RateLimitItem] = []
    for value in values:
        try:
            items.extend(limits.parse_many(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit; write it like '5/10minutes' or '10/day'"
            ) from None
    if any(item.amount < 1 for item in items):
        raise ValueError(
            f"a limit of 0 refuses everything; write [] to switch a layer off: {values}"
        )
    return items


class RateLimits(BaseModel):
    """Each list is a set of layered windows; all of them must allow a request. An empty
    list switches that layer off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # auto: moving-window for limits up to 100, sliding-window-counter above;
    # moving-window: exact, one stamp kept per request within the window (bounded by the
    # limit); fixed-window: one counter, but up to twice the limit across a window
    # boundary; sliding-window-counter: two counters, approximate (store/limiter.py).
    strategy: Strategy = "auto"
    per_number: list[str] = Field(default_factory=lambda: ["5/10minutes", "10/day"])
    # Off by default: the caller of this API is usually a backend, so the socket address
    # is the backend's own. Turn on once trusted_proxies + X-Forwarded-For carry the
    # end user's address.
    per_ip: list[str] = Field(default_factory=list)
    per_country: list[str] = Field(default_factory=lambda: ["1000/hour"])
    global_sends: list[str] = Field(default_factory=lambda: ["5000/hour"])
    checks_per_ip: list[str] = Field(default_factory=list)

    @field_validator("per_number", "per_ip", "per_country", "global_sends", "checks_per_ip")
    @classmethod
    def _parse(cls, values: list[str]) -> list[str]:
        parse_limits(values)
        return values


class FraudGuard(BaseModel):
    """SMS pumping guard: a country whose started verifications are rarely approved is
    blocked for a while (README, Abuse protection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window: int = Field(default=3600, ge=60, le=7 * 86400, description="seconds")
    min_starts: int = Field(default=50, ge=1, le=1_000_000)
    min_conversion: float = Field(default=0.2, ge=0.0, le=1.0)
    cooldown: int = Field(default=3600, ge=1, le=7 * 86400, description="seconds")
