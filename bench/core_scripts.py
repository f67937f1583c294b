"""Redis CPU of the verification scripts and the rate limits alone, one version against
another: each script's calls of `--flows` flows (the rate limits of a start with three
layers as `bench/verification_scripts.py --abuse` has them, start, record_send, reserve
1.2 times, finish), pipelined, each version on a redis-server of its own, script by script
in turn, so that every version runs under the same load of the machine. Per flow: Redis
CPU by script (medians and ranges of `--replays`), and the commands run inside.

Unlike `bench/verification_scripts.py`, nothing else runs (no pumping guard, no attempt
log, no chains: each script is an EVALSHA of its own, with its TIME and prelude), so a
change to these scripts shows without the rest of the flow's noise.

    python bench/core_scripts.py                                   # main's (core_v5) vs today's
    python bench/core_scripts.py DIR_A DIR_B ...                   # prelude + scripts of each
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from bench.verification_scripts import _pipeline  # noqa: E402
from tests.support.redis_server import start_redis  # noqa: E402

ORDER = ("ratelimit", "start", "record_send", "reserve", "finish")
DEFAULT = (ROOT / "tests/support/core_v5", ROOT / "verify_service/store/scripts")
CODE_HASH = "AQEAAAQASycIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"  # a stored hash's length
# the three layers of a start: per_number (two moving windows), per_country, global_sends
LAYERS = (
    [("m5/600000", "m", "5", "600000"), ("m10/86400000", "m", "10", "86400000")],
    [("s10000000/3600000", "s", "10000000", "3600000")],
    [("s10000000/3600000", "s", "10000000", "3600000")],
)


def _source(directory: Path, name: str) -> str:
    own = directory / f"{name}.lua"
    body = (own if own.exists() else DEFAULT[1] / f"{name}.lua").read_text()
    return f"{(directory / '_prelude.lua').read_text()}\n{body}"


def _limit_args(fields_first: bool) -> list[str]:
    args = ["0"]
    for windows in LAYERS:
        args.append(str(len(windows)))
        if fields_first:  # wave 6: the fields, then mode, limit, period of each
            args += [w[0] for w in windows] + [x for w in windows for x in w[1:]]
        else:
            args += [x for w in windows for x in w]
    return args


def flows(shas: dict[str, str], fields_first: bool, count: int) -> dict[str, list[list[str]]]:
    """Each script's EVALSHA commands for `count` flows, one number each."""
    rng = random.Random(1)
    calls: dict[str, list[list[str]]] = {name: [] for name in ORDER}
    limit = _limit_args(fields_first)
    for n in range(count):
        prefix, vid = f"vs:{{{n:016x}}}", f"ver_{n:016x}{n:016x}"
        keys = ["3", f"vs:rl:{{n{n}}}", "vs:rl:{country}", "vs:rl:{global}"]
        calls["ratelimit"].append(["EVALSHA", shas["ratelimit"], *keys, *limit])
        start = [vid, "login", f"+4179{n:07d}", "86400", "5", "5", "0", "86400", "numeric"]
        calls["start"].append(["EVALSHA", shas["start"], "1", prefix, "0", *start, "6", "sms", ""])
        send = [vid, f"mx4jwio9|s|s|capture|{vid}.1|", "1", CODE_HASH, "86400", "9999999999999"]
        calls["record_send"].append(["EVALSHA", shas["record_send"], "1", prefix, "0", *send, "0"])
        check = ["login", "", "86400", "6", ",numeric,alphanumeric_mixed,"]
        for _ in range(2 if rng.random() < 0.2 else 1):
            calls["reserve"].append(["EVALSHA", shas["reserve"], "1", prefix, "0", *check])
        finish = [vid, "approved", "86400", "0"]
        calls["finish"].append(["EVALSHA", shas["finish"], "1", prefix, "0", *finish])
    return calls


def _cpu(control: redis.Redis) -> float:
    info = control.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", type=Path, nargs="*", default=list(DEFAULT))
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--replays", type=int, default=7)
    args = parser.parse_args()
    servers = [start_redis() for _ in args.dirs]
    try:
        controls = [redis.Redis(port=s.port, decode_responses=True) for s in servers]
        socks = [socket.create_connection(("127.0.0.1", s.port)) for s in servers]
        commands = []
        for directory, control in zip(args.dirs, controls, strict=True):
            shas = {name: str(control.script_load(_source(directory, name))) for name in ORDER}
            fields_first = "its n fields" in _source(directory, "ratelimit")
            calls = flows(shas, fields_first, args.flows)
            commands.append({k: [[x.encode() for x in c] for c in v] for k, v in calls.items()})
        cpu: list[dict[str, list[float]]] = [{n: [] for n in ORDER} for _ in args.dirs]
        inner: list[dict[str, Any]] = [{} for _ in args.dirs]
        for replay in range(args.replays + 1):  # the first one warms up
            for control in controls:
                control.flushall()
                control.config_resetstat()
            for name in ORDER:
                for i, (control, sock) in enumerate(zip(controls, socks, strict=True)):
                    before = _cpu(control)
                    if _pipeline(sock, commands[i][name]):
                        raise RuntimeError(f"{args.dirs[i]}: {name} replied errors")
                    if replay:
                        cpu[i][name].append((_cpu(control) - before) * 1e6 / args.flows)
            for i, control in enumerate(controls):
                stats = control.info("commandstats")
                inner[i] = {
                    k.removeprefix("cmdstat_"): v["calls"] / args.flows
                    for k, v in stats.items()
                    if k.removeprefix("cmdstat_") not in ("info", "config|resetstat", "flushall")
                }
        for i, directory in enumerate(args.dirs):
            total = sum(statistics.median(cpu[i][n]) for n in ORDER)
            by = ", ".join(
                f"{n} {statistics.median(c):.1f} ({min(c):.1f}-{max(c):.1f})"
                for n, c in cpu[i].items()
            )
            print(f"{directory}: {total:.1f} µs per flow; {by}")
            counts = sorted(inner[i].items(), key=lambda x: -x[1])
            inside = sum(v for k, v in counts if k != "evalsha")
            print(
                f"  {inside:.2f} commands inside: " + ", ".join(f"{k} {v:.2f}" for k, v in counts)
            )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
