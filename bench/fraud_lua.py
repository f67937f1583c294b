"""Redis time of the pumping guard's two scripts per call: wave 4's (`tests/support/
fraud_v4/`, verbatim) against this checkout's, on the same stream, on one redis-server.

The stream: real users in five countries (80 % approve within a minute) and pumping runs
of sequential numbers, `--events` calls, the clock the first argument (both versions judge
at the same instants). Each version runs the stream on a database of its own, the two
interleaved in slices of CHUNK calls (the same load of a busy machine for both), `--runs`
times; every call is in the slow log (threshold 0), and the median of each script's
per-call durations is printed (medians: preemptions fall out), with Redis's CPU per call
(`INFO cpu` around each slice). `--allowed` marks every number
allow-listed, as `bench/verification_scripts.py --abuse` has them (no verdicts judged).
`--against DIR...` runs other scripts instead of wave 4's: another checkout's
`verify_service/store/scripts` (with its own prelude), e.g. main's against a branch.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import phonenumbers
import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from tests.support.redis_server import RedisServer, free_port  # noqa: E402
from verify_service.abuse.fraud import LEVEL_CONFIDENCE, MODES, guard_args  # noqa: E402
from verify_service.abuse.ranges import prefixes_of, ranges_of  # noqa: E402
from verify_service.config.abuse import FraudGuard  # noqa: E402
from verify_service.store import keys  # noqa: E402
from verify_service.store.fraud import REPEAT_WINDOW  # noqa: E402

SCRIPTS = ROOT / "verify_service" / "store" / "scripts"
VERSIONS = {"wave 4": ROOT / "tests" / "support" / "fraud_v4", "this checkout": SCRIPTS}
FIXED_CLOCK = "local function now_ms(clock_offset_ms) return tonumber(clock_offset_ms) end\n"
CHUNK = 100  # calls of one version before the other's
COUNTRIES = [("+4917", 9), ("+4179", 7), ("+336", 8), ("+447", 9), ("+1415", 7)]


def _source(directory: Path, name: str) -> str:
    # a directory of scripts with a prelude of its own (a checkout's) runs with it
    own = directory / "_prelude.lua"
    prelude = (own if own.exists() else SCRIPTS / "_prelude.lua").read_text()
    return f"{prelude}\n{FIXED_CLOCK}{(directory / f'{name}.lua').read_text()}"


def _valid(prefix: str, digits: int, rng: random.Random) -> str:
    while True:
        e164 = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            return e164


def stream(events: int, seed: int = 1) -> list[tuple[str, str, int]]:
    """(kind, number, now ms) calls: real users, 80 % approving, and pumping runs."""
    rng = random.Random(seed)
    now = 1_764_000_000_000
    pending: list[tuple[int, str]] = []
    out: list[tuple[str, str, int]] = []
    while len(out) < events:
        now += int(rng.expovariate(1 / 2000))
        if pending and pending[0][0] <= now:
            out.append(("approve", pending.pop(0)[1], now))
            continue
        if rng.random() < 0.1:
            block = _valid("+491521", 7, rng)[:-2]
            for i in range(rng.randint(3, 12)):
                now += rng.randint(100, 3000)
                out.append(("start", f"{block}{i:02d}", now))
            continue
        prefix, digits = rng.choice(COUNTRIES)
        e164 = _valid(prefix, digits, rng)
        out.append(("start", e164, now))
        if rng.random() < 0.8:
            pending.append((now + rng.randint(3000, 60000), e164))
            pending.sort()
    return out[:events]


def calls(events: list[tuple[str, str, int]], allowed: bool) -> list[tuple[str, list[Any]]]:
    args = guard_args(FraudGuard())
    z = MODES["standard"].z
    k = keys.fraud_keys("bench")
    out: list[tuple[str, list[Any]]] = []
    for kind, e164, now in events:
        ranges = ranges_of(e164)
        prefixes = " ".join(r.prefix for r in ranges)
        if kind == "approve":
            keys_ = [k.ranges, k.lru]
            argv = [now, args.window_ms, args.baseline_ms, args.ttl_ms, prefixes]
            out.append(("fraud_approve", [len(keys_), *keys_, *argv]))
            continue
        keys_ = [k.ranges, k.lru, k.blocks, k.allow, k.seen]
        argv = [
            now,
            *args.argv(),
            "1" if allowed else "0",
            prefixes,
            " ".join(r.level for r in ranges),
            " ".join(repr(z * LEVEL_CONFIDENCE.get(r.level, 1.0)) for r in ranges),
            " ".join(prefixes_of(e164)),
            keys.number_digest("bench", e164),
            REPEAT_WINDOW * 1000,
        ]
        out.append(("fraud_start", [len(keys_), *keys_, *argv]))
    return out


def _cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(
    clients: dict[str, redis.Redis], shas: dict[str, dict[str, str]], stream_calls: list[Any]
) -> dict[str, dict[str, float]]:
    """One pass of the stream per version, each on its own database, interleaved in slices
    of CHUNK calls (both see the same load of the machine): median µs per call of each
    script (slow log), and Redis CPU per call (`INFO cpu` around each slice)."""
    control = next(iter(clients.values()))
    control.flushall()
    control.config_set("slowlog-log-slower-than", 0)
    control.config_set("slowlog-max-len", len(clients) * len(stream_calls) + 10)
    control.slowlog_reset()
    cpu = dict.fromkeys(clients, 0.0)
    for at in range(0, len(stream_calls), CHUNK):
        for version, client in clients.items():
            pipe = client.pipeline(transaction=False)
            for name, argv in stream_calls[at : at + CHUNK]:
                pipe.evalsha(shas[version][name], *argv)
            before = _cpu(control)
            pipe.execute()
            cpu[version] += _cpu(control) - before
    names = {sha: (version, name) for version, by in shas.items() for name, sha in by.items()}
    durations: dict[tuple[str, str], list[int]] = {key: [] for key in names.values()}
    for entry in control.slowlog_get(len(clients) * len(stream_calls) + 10):
        command = entry["command"].split()
        if len(command) > 1 and command[0].upper() == b"EVALSHA":
            key = names.get(command[1].decode())
            if key:
                durations[key].append(int(entry["duration"]))
    control.config_set("slowlog-log-slower-than", 10000)
    return {
        version: {
            "cpu": cpu[version] / len(stream_calls) * 1e6,
            **{name: statistics.median(d) for (v, name), d in durations.items() if v == version},
        }
        for version in clients
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--allowed", action="store_true", help="every number allow-listed")
    parser.add_argument(
        "--against",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="compare with these scripts directories (another checkout's "
        "verify_service/store/scripts, with its own prelude) instead of wave 4's",
    )
    args = parser.parse_args()
    versions = dict(VERSIONS)
    if args.against:
        versions = {str(d): d for d in args.against} | {"this checkout": SCRIPTS}
    stream_calls = calls(stream(args.events), args.allowed)
    server = RedisServer(free_port(), Path(tempfile.mkdtemp())).start()
    try:
        clients = {
            version: redis.Redis(port=server.port, db=i) for i, version in enumerate(versions)
        }
        r = clients["this checkout"]
        shas = {
            version: {
                # a comment of its own: identical texts would share a SHA in the slow log
                name: r.script_load(f"{_source(directory, name)}\n-- {version}\n")
                for name in ("fraud_start", "fraud_approve")
            }
            for version, directory in versions.items()
        }
        results: dict[str, list[dict[str, float]]] = {version: [] for version in versions}
        for _ in range(args.runs):
            for version, result in run(clients, shas, stream_calls).items():
                results[version].append(result)
    finally:
        server.stop()
    starts = sum(1 for name, _ in stream_calls if name == "fraud_start")
    print(
        f"{len(stream_calls)} calls ({starts} starts), {args.runs} runs, interleaved"
        + (", every number allow-listed" if args.allowed else "")
    )
    for version, runs in results.items():
        line = [f"  {version:<14}\n   "]
        for key in ("fraud_start", "fraud_approve", "cpu"):
            values = [run[key] for run in runs]
            label = "Redis CPU per call" if key == "cpu" else f"{key} median"
            line.append(f"{label} {statistics.median(values):6.1f} µs")
        print("  ".join(line))


if __name__ == "__main__":
    main()
