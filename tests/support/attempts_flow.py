"""The acceptance flow of the attempt log (issue 17), as data plus one driver per dialect:
20 starts across 3 countries, 12 approved, 2 refused by the per-number rate limit, 1
provider failure. Both the native API test and the Twilio SDK test run it and compare
against the same expected summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.support.abuse_helpers import GUARD_OFF, only
from tests.support.fake_providers import ScriptedProvider, bad_credentials

Outcome = Literal["approve", "ignore", "fail", "refused"]


@dataclass(frozen=True)
class Step:
    to: str
    country: str
    outcome: Outcome


def _steps() -> list[Step]:
    ch = [f"+4179123450{i}" for i in range(9)]
    de = [f"+491511234567{i}" for i in range(5)]
    fr = [f"+3361234567{i}" for i in range(3)]
    steps = [Step(n, "CH", "approve" if i < 6 else "ignore") for i, n in enumerate(ch)]
    steps += [Step(n, "DE", "approve" if i < 4 else "ignore") for i, n in enumerate(de)]
    steps += [Step("+4915112345699", "DE", "fail")]
    steps += [Step(n, "FR", "approve" if i < 2 else "ignore") for i, n in enumerate(fr)]
    # a second start to a number already started within the hour: refused (per_number)
    steps += [Step(ch[6], "CH", "refused"), Step(fr[2], "FR", "refused")]
    return steps


STEPS = _steps()
# the number whose attempts `?to=` lists: a send, then a refusal
REPEATED = STEPS[6].to

# country -> (attempts, converted)
EXPECTED = {"CH": (10, 6), "DE": (6, 4), "FR": (4, 2)}
TOTAL, CONVERTED = 20, 12

SERVICE = {
    "providers": ["scripted"],
    "rate_limits": only(per_number=["1/hour"]),
    "fraud_guard": GUARD_OFF,
}
PROVIDERS = {"scripted": {"kind": "scripted"}}


def code_for(provider: ScriptedProvider, to: str) -> str:
    return next(m for m in reversed(provider.calls) if m.to == to).text.rsplit(" ", 1)[-1]


async def run_native(client: Any, provider: ScriptedProvider) -> dict[str, str]:
    """The flow through /v1 (`client` posts with the service's key); returns the
    verification id of each number that got one."""
    ids: dict[str, str] = {}
    for step in STEPS:
        if step.outcome == "fail":
            provider.plan = [bad_credentials()]
        r = await client.post("/v1/verifications", {"to": step.to})
        if step.outcome == "refused":
            assert r.status_code == 429, r.text
            continue
        if step.outcome == "fail":
            assert r.status_code == 502, r.text
            continue
        assert r.status_code == 201, r.text
        ids[step.to] = r.json()["id"]
        if step.outcome == "approve":
            check = {"verification_id": ids[step.to], "code": code_for(provider, step.to)}
            r = await client.post("/v1/verifications/check", check)
            assert r.json()["status"] == "approved", r.text
    return ids


def run_twilio(
    create: Callable[[str], Any],
    check: Callable[[str, str], Any],
    provider: ScriptedProvider,
    refused: type[Exception],
) -> None:
    """The flow through Twilio's SDK: `create(to)` starts, `check(to, code)` checks;
    `refused` is the exception the SDK raises for a 4xx/5xx."""
    for step in STEPS:
        if step.outcome == "fail":
            provider.plan = [bad_credentials()]
        if step.outcome in ("refused", "fail"):
            try:
                create(step.to)
            except refused:
                continue
            raise AssertionError(f"{step} was not refused")
        create(step.to)
        if step.outcome == "approve":
            assert check(step.to, code_for(provider, step.to)).status == "approved"
