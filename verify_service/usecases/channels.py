"""Which channel a start sends on, and what comes after it: the start's own workflow,
the service's, or the one channel asked for.

- A start with a `workflow` runs it (its `channel`, if given, must be its first step's).
- Else, when the service has a `workflow` and the start names no channel or that
  workflow's first channel, the service's workflow runs (so Twilio clients, which always
  name a channel, get the fallback too).
- Else the start sends once on its `channel` (default `sms`), without fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from verify_service.config import ServiceSettings
from verify_service.config.channels import workflow_problem
from verify_service.domain.channels import CHANNELS, WorkflowStep
from verify_service.domain.errors import VerifyError
from verify_service.store import StoredVerification
from verify_service.usecases.messages import Wanted


class WorkflowScheduler(Protocol):
    """Queues the fallback steps of a verification just started (usecases/workflows.py)."""

    async def schedule(
        self,
        service: ServiceSettings,
        record: StoredVerification,
        steps: Sequence[WorkflowStep],
        wanted: Wanted,
        template: str | None,
    ) -> None: ...


def _not_allowed(service: ServiceSettings, channel: str) -> VerifyError:
    enabled = ", ".join(service.allowed_channels)
    return VerifyError(
        "channel_not_allowed",
        f"channel {channel!r} is not enabled for this service (enabled: {enabled})",
        extra={"channel": channel},
    )


def channel_plan(
    service: ServiceSettings,
    channel: str | None,
    workflow: Sequence[WorkflowStep] | None,
) -> tuple[WorkflowStep, ...]:
    """The steps of this start, first one = the channel to send on now.

    Raises VerifyError: invalid_request (an unknown channel, a workflow that breaks the
    rules of `config.channels.workflow_problem`, a `channel` that is not the workflow's
    first), channel_not_allowed (a channel the service does not enable)."""
    if channel is not None and channel not in CHANNELS:
        raise VerifyError(
            "invalid_request", f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})"
        )
    if workflow:
        for step in workflow:
            if step.channel not in CHANNELS:
                raise VerifyError(
                    "invalid_request",
                    f"workflow: unknown channel {step.channel!r} (known: {', '.join(CHANNELS)})",
                )
            if step.channel not in service.allowed_channels:
                raise _not_allowed(service, step.channel)
        problem = workflow_problem(workflow, service.allowed_channels)
        if problem is not None:
            raise VerifyError("invalid_request", f"workflow: {problem}")
        if channel is not None and channel != workflow[0].channel:
            raise VerifyError(
                "invalid_request", "channel must be the workflow's first channel, or left out"
            )
        return tuple(workflow)
    configured = tuple(step.step() for step in service.workflow)
    if configured and channel in (None, configured[0].channel):
        return configured
    chosen = channel or "sms"
    if chosen not in service.allowed_channels:
        raise _not_allowed(service, chosen)
    return (WorkflowStep(chosen),)
