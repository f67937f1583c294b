"""Per-service abuse settings: rate limits in the `limits` string notation, the SMS
pumping guard, and the operators who may control the guard. Parsed at start-up so that a
typo fails before the first request."""

from __future__ import annotations

import re
from typing import Literal, Self

import limits
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Strategy = Literal["moving-window", "fixed-window", "sliding-window-counter"]


def parse_limits(values: list[str]) -> list[limits.RateLimitItem]:
    items: list[limits.RateLimitItem] = []
    for value in values:
        try:
            items.extend(limits.parse_many(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit; write it like '5/10minutes' or '10/day'"
            ) from None
    return items


class RateLimits(BaseModel):
    """Each list is a set of layered windows; all of them must allow a request. An empty
    list switches that layer off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # moving-window: exact, one Redis list entry per request within the window (bounded
    # by the limit); fixed-window: one counter, but up to twice the limit across a window
    # boundary; sliding-window-counter: two counters, approximate.
    strategy: Strategy = "moving-window"
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


FraudMode = Literal["basic", "standard", "max"]
# E.164 prefix of a number range: "+" and 1-15 digits ("+49", "+491521", a whole number).
RANGE_PATTERN = r"^\+[1-9][0-9]{0,14}$"


class FraudGuard(BaseModel):
    """SMS pumping guard (docs/fraud.md): starts and approvals are counted per number range
    (country code, national destination code, blocks of 1M, 10k and 100 numbers), each
    range's recent conversion is compared with the baseline learnt over days, and the
    narrowest range that converts significantly worse is blocked for a cool-down.

    `mode` sets how much evidence a block needs (`abuse.fraud.MODES`); the other keys
    override single knobs. `window`, `min_starts`, `min_conversion` and `cooldown` are the
    keys of the first guard and keep a compatible meaning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    mode: FraudMode = "standard"
    # Recent traffic: counters decay with this time constant (seconds), so a steady
    # stream of r starts per second reads r * window, as over a sliding window.
    window: int = Field(default=3600, ge=60, le=7 * 86400, description="seconds")
    # The baseline: the same counters with a time constant of days.
    baseline: int = Field(default=7 * 86400, ge=3600, le=90 * 86400, description="seconds")
    # None = the mode's: fewest recent starts before a range is judged at all.
    min_starts: int | None = Field(default=None, ge=1, le=1_000_000)
    # Optional fixed floor, judged like the baseline (a range whose conversion is
    # significantly below it is blocked too); None = baselines only.
    min_conversion: float | None = Field(default=None, ge=0.0, le=1.0)
    # None = the mode's: seconds of a first block; each repeat within a day doubles it.
    cooldown: int | None = Field(default=None, ge=1, le=7 * 86400, description="seconds")
    max_cooldown: int = Field(default=86400, ge=1, le=30 * 86400, description="seconds")
    # Memory: ranges counted per service (about 200 bytes each in Redis, docs/fraud.md);
    # the least recently used are forgotten first.
    max_ranges: int = Field(default=20_000, ge=100, le=1_000_000)
    # E.164 prefixes the guard never blocks (still counted); operators add more at run time.
    allowed_prefixes: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("allowed_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: list[str]) -> list[str]:
        bad = [p for p in prefixes if not re.fullmatch(RANGE_PATTERN, p)]
        if bad:
            raise ValueError(f"write prefixes in E.164 form such as '+491521': {', '.join(bad)}")
        return prefixes

    @model_validator(mode="after")
    def _horizons(self) -> Self:
        if self.baseline < 4 * self.window:
            raise ValueError(
                f"baseline ({self.baseline} s) must be at least 4 x window ({self.window} s): "
                "the baseline is what recent traffic is compared with"
            )
        if self.cooldown is not None and self.cooldown > self.max_cooldown:
            raise ValueError(f"cooldown ({self.cooldown} s) exceeds max_cooldown")
        return self


class Operator(BaseModel):
    """Someone who may read and change the fraud guard's state (`/v1/fraud/*`) of some
    services, with keys of their own: a service's API key, which sits in an app backend,
    cannot lift a block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")  # logged as the actor
    api_keys: list[str] = Field(min_length=1)  # sha256:<hex> or env:NAME, as services'
    services: list[str] = Field(min_length=1)  # service names, or ["*"] for all

    @field_validator("api_keys")
    @classmethod
    def _hashed_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", key):
                raise ValueError(
                    "each API key must be 'sha256:<64 hex digits>' or 'env:NAME' "
                    "(plaintext keys are not accepted in the file; see hash-api-key)"
                )
        return keys

    def manages(self, service: str) -> bool:
        return "*" in self.services or service in self.services


def check_operators(operators: list[Operator], services: list[str], service_keys: set[str]) -> None:
    """ValueError when an operator names an unknown service or shares a key with a
    service or another operator (a key must say unambiguously who calls)."""
    seen: set[str] = set()
    for operator in operators:
        unknown = [s for s in operator.services if s != "*" and s not in services]
        if unknown:
            raise ValueError(f"operator {operator.name!r}: unknown services {', '.join(unknown)}")
        for key in operator.api_keys:
            if key in service_keys:
                raise ValueError(f"operator {operator.name!r} shares an API key with a service")
            if key in seen:
                raise ValueError(f"operator {operator.name!r} shares an API key with another")
            seen.add(key)
    names = [o.name for o in operators]
    if len(set(names)) != len(names):
        raise ValueError("two operators have the same name")
