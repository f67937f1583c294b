"""The `[attempts]` table: how long the attempt log (`store.attempts`) keeps a record and
how many it keeps per service at most.

    [attempts]
    retention = 2592000      # seconds a record is kept: 30 days, as Twilio's Attempts API
    max_per_service = 1000000  # the oldest records go first beyond this (memory bound)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DAY = 86400


class AttemptSettings(BaseModel):
    """`retention`: seconds (1 hour to 400 days); `max_per_service`: records kept per
    service at most, each about 250 bytes in Redis (docs/performance.md), so the default
    bounds a service's log near 250 MB whatever the traffic (refusals of a flood too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention: int = Field(default=30 * DAY, ge=3600, le=400 * DAY)
    max_per_service: int = Field(default=1_000_000, ge=100, le=100_000_000)
