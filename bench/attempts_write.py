"""Redis work of the attempt log's writes, per call: `attempts_add.lua` (a start's send
attempts, a resend, a refusal), `attempts_convert.lua` (an approval) and
`attempts_dlr.lua` (delivery reports), by Redis's own count.

1. Record: `--flows` verifications of one service (30 countries, 3 providers; a start is
   one accepted send, or a failed try and a second provider in one call 5 % of the time;
   10 % get a resend, 5 % of starts are refused; 60 % are approved; 90 % of the accepted
   sends get a delivery report) are turned into script calls by this checkout's
   `AttemptStore`, without Redis: the calls' KEYS and ARGV are what the service sends
   (they are the same for every checkout that keeps the scripts' interface).
2. Replay: each checkout (this one; `--code` another, e.g. main) gets a fresh
   redis-server with its own scripts (`verify_service/store/scripts/`, the prelude in
   front, as store/scripts.py loads them), and `--prefill` records written first (a log
   of realistic size). Then every phase (all adds, then all approvals, then all reports)
   is sent pipelined in slices, taken in turn (this checkout's slice, the other's, ...),
   so both run under the same load of the machine. Per call: Redis CPU of the EVALSHA
   (`INFO commandstats`, the script's commands included) and the commands it ran
   inside; `used_memory` per attempt after the adds.

    python bench/attempts_write.py                          # this checkout
    python bench/attempts_write.py --code /work/main        # and main, interleaved
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer, start_redis  # noqa: E402
from verify_service.domain.attempts import Attempt, AttemptStatus  # noqa: E402
from verify_service.store import Store, keys  # noqa: E402
from verify_service.store.attempts import AttemptStore, DeliveryUpdate, new_id  # noqa: E402

SERVICE = "login"
TAG_KEY = b"bench-tag-key-0123456789abcdef01"
COUNTRIES = [f"{chr(65 + i // 26)}{chr(66 + i % 26)}" for i in range(30)]
PROVIDERS = ("alpha", "beta", "gamma")
PHASES = ("attempts_add", "attempts_convert", "attempts_dlr")
SLICES = 20


@dataclass
class Workload:
    """Script calls (name, KEYS, ARGV) by phase; `prefill` is written before measuring."""

    prefill: list[tuple[str, list[str], list[Any]]] = field(default_factory=list)
    phases: dict[str, list[tuple[str, list[str], list[Any]]]] = field(default_factory=dict)
    attempts: int = 0


class _Recorder:
    """Stands in for `Scripts`: keeps each call instead of running it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], list[Any]]] = []

    async def run(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        self.calls.append((name, list(keys_), [str(a) for a in args]))
        return 0


class _Store:
    def __init__(self, recorder: _Recorder) -> None:
        self.scripts = recorder
        self.clock_offset_ms = 0
        self.deadline = 5.0


async def _workload(flows: int, prefill: int, seed: int) -> Workload:
    rng = random.Random(seed)
    recorder = _Recorder()
    # stands in for the Store: only `scripts.run`, the clock offset and the deadline are used
    store = cast(Store, _Store(recorder))
    log = AttemptStore(store, tag_key=TAG_KEY, retention=30 * 86400, max_per_service=10**6)
    now = datetime.now(UTC)
    work = Workload()

    async def flow(at: datetime) -> tuple[list[Any], list[Any]]:
        """One verification's start (and resend); returns (approval, reports) to come."""
        n = rng.randrange(10**9)
        country = rng.choice(COUNTRIES)
        to = f"+41{n:09d}"
        tag = keys.tag_for(TAG_KEY, SERVICE, to)
        if rng.random() < 0.05:
            refusal = Attempt(
                new_id(at), at, SERVICE, "refused", to, country, "sms", reason="per_number"
            )
            await log.add(SERVICE, tag, [refusal])
            return [], []
        vid = keys.new_id(tag)

        def send(when: datetime, provider: str, status: AttemptStatus) -> Attempt:
            return Attempt(
                new_id(when), when, SERVICE, status, to, country, "sms", provider, vid, segments=1
            )

        provider = rng.choice(PROVIDERS)
        records = [send(at, provider, "sent")]
        if rng.random() < 0.05:
            second = rng.choice([p for p in PROVIDERS if p != provider])
            records = [
                send(at, provider, "failed"),
                send(at + timedelta(milliseconds=1), second, "sent"),
            ]
        await log.add(
            SERVICE, tag, records, created=True, seconds=[rng.uniform(0.02, 0.6) for _ in records]
        )
        if rng.random() < 0.10:
            later = at + timedelta(seconds=rng.randint(30, 90))
            resend = [send(later, rng.choice(PROVIDERS), "sent")]
            await log.add(SERVICE, tag, resend, seconds=[rng.uniform(0.02, 0.6)])
            records += resend
        times = [int(r.created_at.timestamp() * 1000) for r in records]
        accepted = [t for r, t in zip(records, times, strict=True) if r.status == "sent"]
        approval = [(vid, times, max(accepted))] if rng.random() < 0.6 else []
        reports = [
            DeliveryUpdate(
                vid, r.provider or "", t, "delivered" if rng.random() < 0.9 else "undelivered", "X1"
            )
            for r, t in zip(records, times, strict=True)
            if r.status == "sent" and rng.random() < 0.9
        ]
        return approval, reports

    for i in range(prefill):
        await flow(now - timedelta(hours=2, seconds=prefill - i))
    work.prefill = recorder.calls
    recorder.calls = []
    approvals: list[Any] = []
    reports: list[Any] = []
    for i in range(flows):
        approval, report = await flow(now - timedelta(minutes=30) + timedelta(milliseconds=300 * i))
        approvals += approval
        reports += report
    work.attempts = sum(len(args[6].split("\n")) for _, _, args in recorder.calls)
    work.phases["attempts_add"] = recorder.calls
    recorder.calls = []
    for vid, times, credit in approvals:
        await log.convert(SERVICE, vid, times, credit)
    work.phases["attempts_convert"] = recorder.calls
    recorder.calls = []
    rng.shuffle(reports)
    for at in range(0, len(reports), 1):
        await log.report(SERVICE, reports[at : at + 1])
    work.phases["attempts_dlr"] = recorder.calls
    return work


def _source(code: Path, name: str) -> str:
    scripts = code / "verify_service" / "store" / "scripts"
    return f"{(scripts / '_prelude.lua').read_text()}\n{(scripts / f'{name}.lua').read_text()}"


class Target:
    """One checkout's scripts on its own fresh redis-server."""

    def __init__(self, label: str, code: Path) -> None:
        self.label = label
        self.server: RedisServer = start_redis()
        self.client = redis.Redis(port=self.server.port)
        self.sha = {name: self.client.script_load(_source(code, name)) for name in PHASES}
        self.usec: dict[str, list[float]] = {name: [] for name in PHASES}
        self.calls: dict[str, int] = Counter()
        self.inner: dict[str, Counter[str]] = {name: Counter() for name in PHASES}
        self.memory: dict[str, float] = {}

    def send(self, calls: list[tuple[str, list[str], list[Any]]], phase: str | None) -> None:
        if phase is not None:
            self.client.config_resetstat()
        pipe = self.client.pipeline(transaction=False)
        for name, keys_, args in calls:
            pipe.evalsha(self.sha[name], len(keys_), *keys_, *args)
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, Exception):
                raise reply
        if phase is None:
            return
        stats = self.client.info("commandstats")
        evalsha = stats["cmdstat_evalsha"]
        self.usec[phase].append(evalsha["usec"] / evalsha["calls"])
        self.calls[phase] += evalsha["calls"]
        for name, stat in stats.items():
            if name != "cmdstat_evalsha":
                self.inner[phase][name.removeprefix("cmdstat_").upper()] += stat["calls"]

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=6000)
    parser.add_argument("--prefill", type=int, default=20000)
    parser.add_argument(
        "--code", type=Path, nargs="*", default=[], help="other checkouts to compare with"
    )
    parser.add_argument("--rounds", type=int, default=3, help="replays of the whole workload")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = asyncio.run(_workload(args.flows, args.prefill, args.seed))
    checkouts = [(str(code), code.resolve()) for code in args.code]
    checkouts.append(("this checkout", ROOT))
    results: dict[str, list[Target]] = {label: [] for label, _ in checkouts}
    for _ in range(args.rounds):
        targets = [Target(label, code) for label, code in checkouts]
        try:
            for target in targets:
                target.client.flushall()
                target.send(work.prefill, None)
                base = target.client.info("memory")["used_memory"]
                target.memory["base"] = base
            for phase in PHASES:
                calls = work.phases[phase]
                step = max(1, len(calls) // SLICES)
                for at in range(0, len(calls), step):
                    for target in targets:
                        target.send(calls[at : at + step], phase)
                if phase == "attempts_add":
                    for target in targets:
                        used = target.client.info("memory")["used_memory"]
                        target.memory["per_attempt"] = (
                            used - target.memory["base"]
                        ) / work.attempts
            for target in targets:
                hours = target.client.keys(
                    keys.attempts_hour_key(SERVICE, 0).replace(":h:0", ":h:*")
                )
                sizes = [target.client.memory_usage(h) or 0 for h in hours]
                target.memory["hour"] = sum(sizes) / max(1, len(sizes))
        finally:
            for target in targets:
                target.close()
        for target in targets:
            results[target.label].append(target)
    print(
        f"{args.flows} flows ({work.attempts} attempts in {len(work.phases['attempts_add'])} "
        f"add calls, {len(work.phases['attempts_convert'])} approvals, "
        f"{len(work.phases['attempts_dlr'])} report calls) after {args.prefill} prefilled; "
        f"{args.rounds} rounds, {SLICES} interleaved slices per phase"
    )
    for label, rounds in results.items():
        print(f"{label}:")
        for phase in PHASES:
            per_round = [statistics.median(t.usec[phase]) for t in rounds]
            made = sum(t.calls[phase] for t in rounds)
            inner: Counter[str] = Counter()
            for t in rounds:
                inner.update(t.inner[phase])
            total = sum(inner.values()) / made
            detail = ", ".join(f"{name} {count / made:.2f}" for name, count in inner.most_common())
            slices = sorted(u for t in rounds for u in t.usec[phase])
            low = slices[len(slices) // 10]
            first = results[next(iter(results))]
            # each slice against the same slice of the first checkout, run just before it
            ratios = [
                mine / theirs
                for t, f in zip(rounds, first, strict=True)
                for mine, theirs in zip(t.usec[phase], f.usec[phase], strict=True)
            ]
            paired = (
                ""
                if rounds is first
                else f"; {statistics.median(ratios):.3f} times the first, slice by slice"
            )
            print(
                f"  {phase:<17} {statistics.median(per_round):6.2f} µs per call (rounds "
                + " / ".join(f"{u:.2f}" for u in per_round)
                + f"; the quietest tenth of slices {low:.2f}{paired}); {total:.2f} commands "
                + "inside: "
                + detail
            )
        memory = [t.memory["per_attempt"] for t in rounds]
        hour = statistics.median(t.memory["hour"] for t in rounds)
        print(
            f"  used_memory per attempt (the adds): {statistics.median(memory):.0f} B; "
            f"MEMORY USAGE per service-hour, at the end: {hour:.0f} B"
        )


if __name__ == "__main__":
    main()
