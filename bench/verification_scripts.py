"""Redis work per flow, by Redis's own count: round trips, commands inside the scripts,
bytes, and Redis CPU, measured on a pipelined replay of the flows' own commands.

1. Record: `--flows` flows (start -> 20 % one wrong check -> right check) run through the
   use cases with the capture provider, on a throwaway redis-server reached through a
   recording proxy that keeps every command the service sends, byte for byte. `--abuse`
   turns the abuse layers on as `bench/run.py` has them (per_number as shipped, per_country
   and global_sends at benchmark rates, the pumping guard counting but never blocking);
   without it the rate limits and the guard are off (the verification scripts alone).
2. Replay: the recorded commands are sent again to a fresh database, pipelined (no client
   between them), `--replays` times. Redis's CPU (`INFO cpu`) per flow over a replay is the
   cost of the flow's commands themselves, with the network and the client's pace taken
   out, so it moves much less with the machine's load than a live run's; one more replay
   with every command in the slow log splits the time by script (`script_usec`) and
   counts the commands each script ran inside.

Round trips and commands per flow do not depend on the machine at all; they are the
main measure. For a before/after comparison, record each checkout once and replay the
recordings interleaved on one server:

    python bench/verification_scripts.py --abuse --save /tmp/after.resp
    PYTHONPATH=/path/to/old python bench/verification_scripts.py --abuse --save /tmp/before.resp
    python bench/verification_scripts.py --replay /tmp/before.resp /tmp/after.resp --replays 5
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import random
import socket
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import hiredis
import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

# Commands of the service that are not part of a flow (connection set-up, script loading).
_SETUP = {b"SCRIPT", b"CLIENT", b"HELLO", b"SELECT", b"PING"}
_BATCH = 256  # commands per pipelined write in a replay


def _pack(command: list[bytes]) -> bytes:
    # hiredis's stub types the command as a one-element tuple
    return bytes(hiredis.pack_command(cast(Any, tuple(command))))


def _memory_bench() -> Any:
    """bench/verification_memory.py of this checkout (PYTHONPATH may name another's)."""
    spec = importlib.util.spec_from_file_location(
        "_memory", Path(__file__).parent / "verification_memory.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Recording:
    """What the service sent: the set-up commands (script loads), then the flows'
    commands in the order Redis received them; `names` maps a script's SHA to its name."""

    flows: int
    setup: list[list[bytes]] = field(default_factory=list)
    commands: list[list[bytes]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    label: str = ""
    # how many commands each round trip sent (a pipeline is one), in order; [] = one each
    batches: list[int] = field(default_factory=list)

    def round_trip_batches(self) -> list[list[list[bytes]]]:
        """The commands as the service sent them: one list per round trip."""
        sizes = self.batches or [1] * len(self.commands)
        out, at = [], 0
        for size in sizes:
            out.append(self.commands[at : at + size])
            at += size
        return out

    def save(self, path: Path) -> None:
        header = {
            "flows": self.flows,
            "setup": len(self.setup),
            "names": self.names,
            "batches": self.batches,
        }
        with path.open("wb") as out:
            out.write(json.dumps(header).encode() + b"\n")
            for command in (*self.setup, *self.commands):
                out.write(_pack(command))

    @classmethod
    def load(cls, path: Path) -> Recording:
        raw = path.read_bytes()
        line, _, body = raw.partition(b"\n")
        header = json.loads(line)
        reader = hiredis.Reader()
        reader.feed(body)
        commands = []
        while (command := reader.gets()) is not False:
            commands.append(command)
        setup = header["setup"]
        return cls(
            header["flows"],
            commands[:setup],
            commands[setup:],
            header["names"],
            path.name,
            header.get("batches", []),
        )

    def without(self, name: str) -> Recording:
        """The same recording without the round trips of `name` (`round_trips`' names)."""
        kept = [c for c in self.commands if _name(c, self.names) != name]
        return Recording(self.flows, self.setup, kept, self.names, f"{self.label} - {name}")

    def only(self, names: set[str], label: str) -> Recording:
        """The same recording with the commands of `names` only (one round trip each)."""
        kept = [c for c in self.commands if _name(c, self.names) in names]
        return Recording(self.flows, self.setup, kept, self.names, label)

    def round_trips(self) -> Counter[str]:
        """Top-level commands per name (EVALSHA by script name), for the whole recording."""
        return Counter(_name(command, self.names) for command in self.commands)


def _name(command: list[bytes], names: dict[str, str]) -> str:
    """A command's name; EVALSHA's with its script's name."""
    name = command[0].decode().upper()
    if name == "EVALSHA":
        name = "EVALSHA " + names.get(command[1].decode(), command[1].decode())
    return name


class Recorder:
    """A TCP proxy in front of Redis that keeps every command its clients send."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.recording: list[list[bytes]] = []
        self.batches: list[int] = []  # commands per read: a round trip (or a pipeline)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        parser = hiredis.Reader()

        async def requests() -> None:
            while data := await reader.read(65536):
                parser.feed(data)
                before = len(self.recording)
                while (command := parser.gets()) is not False:
                    self.recording.append(command)
                if len(self.recording) > before:
                    self.batches.append(len(self.recording) - before)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(requests(), replies(), return_exceptions=True)


def bench_config(abuse: bool) -> dict[str, Any]:
    from verify_service.domain.tokens import MAX_EXPIRES_IN

    config: dict[str, Any] = _memory_bench().config()
    service = config["services"][0]
    # codes expire at absolute times in the recording: long enough to replay it later
    service["expires_in"] = MAX_EXPIRES_IN
    if abuse:  # as bench/run.py: counting, never refusing
        service["rate_limits"] = {
            "per_country": ["10000000/hour"],
            "global_sends": ["10000000/hour"],
        }
        service["fraud_guard"] = {"allowed_prefixes": ["+4179"]}
    else:
        service["rate_limits"] = {
            "per_number": [], "per_ip": [], "per_country": [], "global_sends": [],
            "checks_per_ip": [],
        }  # fmt: skip
        service["fraud_guard"] = {"enabled": False}
    return config


async def record(port: int, flows: int, *, abuse: bool, seed: int = 1) -> Recording:
    """Run `flows` flows through the use cases against the redis-server on `port`, through
    a recording proxy; the recording of what the service sent."""
    from verify_service.api.app import build_components
    from verify_service.config import settings_from_mapping
    from verify_service.domain.model import StartParams
    from verify_service.store import Store, scripts

    recorder = Recorder(port)
    await recorder.start()
    control = aioredis.Redis(port=port, decode_responses=True)
    await control.flushall()
    client = aioredis.Redis(port=recorder.port, decode_responses=True)
    store = Store(client)
    await store.load_scripts()
    components = build_components(settings_from_mapping(bench_config(abuse), environ={}), store)
    service = components.settings.services[0]
    v = components.verifications
    capture = components.providers["capture"]
    rng = random.Random(seed)
    # a warm-up flow on another range: every connection opened, every script used once
    await v.start(service, StartParams(to="+41780000000"))
    await v.check(service, to="+41780000000", code=capture.messages[-1].text[-6:])  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    setup = [c for c in recorder.recording if c[:2] == [b"SCRIPT", b"LOAD"]]
    recorder.recording.clear()
    recorder.batches.clear()
    for n in range(flows):
        to = f"+4179{n:07d}"
        await v.start(service, StartParams(to=to))
        code = capture.messages[-1].text.rsplit(" ", 1)[-1]  # type: ignore[attr-defined]
        if rng.random() < 0.2:
            await v.check(service, to=to, code="".join("1" if c != "1" else "2" for c in code))
        await v.check(service, to=to, code=code)
    await asyncio.sleep(0.05)
    await store.aclose()
    await control.aclose()
    await recorder.stop()
    names = {hashlib.sha1(scripts.source(n).encode()).hexdigest(): n for n in scripts.NAMES}
    commands, batches, at = [], [], 0
    for size in recorder.batches:
        kept = [c for c in recorder.recording[at : at + size] if c[0].upper() not in _SETUP]
        at += size
        if kept:
            commands += kept
            batches.append(len(kept))
    return Recording(flows, setup, commands, names, batches=batches)


def _pipeline(sock: socket.socket, commands: list[list[bytes]]) -> int:
    """Send `commands` in batches, reading each batch's replies; the error replies."""
    reader = hiredis.Reader()
    errors = 0
    for i in range(0, len(commands), _BATCH):
        batch = commands[i : i + _BATCH]
        sock.sendall(b"".join(_pack(c) for c in batch))
        got = 0
        while got < len(batch):
            reply = reader.gets()
            if reply is False:
                reader.feed(sock.recv(1 << 20))
                continue
            got += 1
            errors += isinstance(reply, hiredis.ReplyError)
    return errors


def _cpu(control: redis.Redis) -> float:
    info = control.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class Replayer:
    """One throwaway redis-server per recording. A replay sends every recording's
    commands, pipelined, to its own server in `chunks` slices taken in turn (recording 1's
    first slice, recording 2's first, ..., then the second slices), so that every
    recording runs under the same load of the machine, and reads each server's CPU around
    each slice."""

    def __init__(self, recordings: list[Recording], chunks: int = 40) -> None:
        from tests.support.redis_server import start_redis

        self.recordings = recordings
        self.chunks = chunks
        self.servers = [start_redis() for _ in recordings]

    def close(self) -> None:
        for server in self.servers:
            server.stop()

    def replay(self, *, slowlog: bool = False, round_trips: bool = False) -> list[dict[str, Any]]:
        """One replay of each recording on an empty database. Per flow of each: Redis CPU
        (µs), EVALSHA time (µs, Redis's wall clock), commands (by name, those inside
        scripts included), reply bytes; with `slowlog`, the time and inner commands of
        each script too (the slow log costs time of its own: for the split only).
        `round_trips`: each round trip of the recording on its own (sent, then its replies
        read), as the service sent them: Redis's CPU then includes what each round trip
        costs it (a read and a write on the socket, the event loop's turn)."""
        controls = [redis.Redis(port=s.port, decode_responses=True) for s in self.servers]
        socks = [socket.create_connection(("127.0.0.1", s.port)) for s in self.servers]
        try:
            cpu = [0.0] * len(self.recordings)
            errors = [0] * len(self.recordings)
            nets = []
            for control, sock, rec in zip(controls, socks, self.recordings, strict=True):
                control.flushall()
                if _pipeline(sock, rec.setup):
                    raise RuntimeError("the recording's script loads failed")
                if slowlog:
                    control.config_set("slowlog-log-slower-than", 0)
                    control.config_set("slowlog-max-len", 200 * rec.flows)
                    control.slowlog_reset()
                control.config_resetstat()
                nets.append(control.info("stats")["total_net_output_bytes"])
            trips = [rec.round_trip_batches() for rec in self.recordings]
            for j in range(self.chunks):
                for i, rec in enumerate(self.recordings):
                    n = len(trips[i]) if round_trips else len(rec.commands)
                    a, b = j * n // self.chunks, (j + 1) * n // self.chunks
                    before = _cpu(controls[i])
                    if round_trips:
                        for batch in trips[i][a:b]:
                            errors[i] += _pipeline(socks[i], batch)
                    else:
                        errors[i] += _pipeline(socks[i], rec.commands[a:b])
                    cpu[i] += _cpu(controls[i]) - before
            results = []
            for i, (control, rec) in enumerate(zip(controls, self.recordings, strict=True)):
                stats = control.info("commandstats")
                net = control.info("stats")["total_net_output_bytes"] - nets[i]
                flows = rec.flows
                result: dict[str, Any] = {
                    "errors": errors[i],
                    "redis_cpu_usec": cpu[i] * 1e6 / flows,
                    "evalsha_usec": stats.get("cmdstat_evalsha", {}).get("usec", 0) / flows,
                    "reply_bytes": net / flows,
                    "commands": {
                        name.removeprefix("cmdstat_"): s["calls"] / flows
                        for name, s in stats.items()
                        if name.removeprefix("cmdstat_") not in _CONTROL
                    },
                }
                if slowlog:
                    result["scripts"] = _by_script(control, rec)
                    control.config_set("slowlog-log-slower-than", 10000)
                results.append(result)
            return results
        finally:
            for sock in socks:
                sock.close()
            for control in controls:
                control.close()


_CONTROL = {"info", "config|resetstat", "config|set", "flushall", "slowlog|reset", "slowlog|get"}


def _by_script(control: redis.Redis, recording: Recording) -> dict[str, dict[str, Any]]:
    """Each script's calls, µs and inner commands per flow, from the slow log (a script's
    inner commands are logged before the script's own entry)."""
    entries = sorted(control.slowlog_get(200 * recording.flows), key=lambda e: e["id"])
    scripts: dict[str, dict[str, Any]] = {}
    inner: Counter[str] = Counter()
    for entry in entries:
        raw = entry["command"]
        words = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).split()
        if not words:
            continue
        name = words[0].upper()
        if name in ("INFO", "CONFIG", "SLOWLOG"):
            continue
        if name != "EVALSHA":
            address = entry.get("client_address") or b""
            if str(address).strip("b'") in ("", "?:0"):  # run by a script, not a client
                inner[name] += 1
            continue
        script = recording.names.get(words[1], words[1])
        row = scripts.setdefault(script, {"calls": 0, "usec": 0, "inner": Counter()})
        row["calls"] += 1
        row["usec"] += int(entry["duration"])
        row["inner"].update(inner)
        inner = Counter()
    flows = recording.flows
    return {
        name: {
            "calls": row["calls"] / flows,
            "usec": row["usec"] / flows,
            "inner": {k: v / flows for k, v in row["inner"].most_common()},
        }
        for name, row in sorted(scripts.items())
    }


def _print_recording(recording: Recording) -> None:
    flows = recording.flows
    trips = recording.round_trips()
    total = sum(trips.values())
    rounds = len(recording.batches or recording.commands)
    print(
        f"{recording.label or 'recording'}: {flows} flows, {rounds / flows:.2f} round trips, "
        f"{total / flows:.2f} commands sent, per flow"
    )
    for name, count in trips.most_common():
        print(f"  {name:<28} {count / flows:.2f}")


def _print_replays(
    recording: Recording, runs: list[dict[str, Any]], detail: dict[str, Any]
) -> None:
    cpu = [r["redis_cpu_usec"] for r in runs]
    evalsha = [r["evalsha_usec"] for r in runs]
    commands = detail["commands"]
    total = sum(commands.values())
    trips = len(recording.commands) / recording.flows
    print(
        f"  Redis CPU per flow {statistics.median(cpu):.1f} µs (replays "
        + " / ".join(f"{c:.0f}" for c in cpu)
        + f"); EVALSHA {statistics.median(evalsha):.1f} µs; {detail['reply_bytes']:.0f} B of "
        f"replies; {total:.2f} commands, of which {total - trips:.2f} inside scripts; "
        f"errors {detail['errors']}"
    )
    print(
        "  " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(commands.items(), key=lambda x: -x[1]))
    )
    for name, row in detail.get("scripts", {}).items():
        inner = ", ".join(f"{k} {v:.2f}" for k, v in row["inner"].items())
        print(f"  {name:<18} {row['calls']:.2f} calls: {inner}")


def _split(recording: Recording, replays: int) -> None:
    """Each round trip's Redis CPU per flow, by adding them one at a time in the order a
    flow first sends them: replay k holds the round trips of the first k names, and the
    k-th name costs replay k less replay k - 1 (medians of `replays` each; all replayed in
    turn, see Replayer). Every script then finds what it finds in the whole flow, except
    what later scripts would have changed (nothing, within one flow's order)."""
    order = list(dict.fromkeys(_name(c, recording.names) for c in recording.commands))
    variants = []
    for k in range(1, len(order) + 1):
        kept = set(order[:k])
        commands = [c for c in recording.commands if _name(c, recording.names) in kept]
        variants.append(Recording(recording.flows, recording.setup, commands, recording.names))
    replayer = Replayer(variants)
    try:
        runs = [replayer.replay() for _ in range(replays)]
    finally:
        replayer.close()
    cpu = [statistics.median(run[i]["redis_cpu_usec"] for run in runs) for i in range(len(order))]
    print(f"  split (each round trip added in flow order; whole {cpu[-1]:.1f} µs per flow):")
    for k, name in enumerate(order):
        print(f"    {name:<28} {cpu[k] - (cpu[k - 1] if k else 0):6.1f} µs")


def main() -> None:
    from tests.support.redis_server import start_redis

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--abuse", action="store_true", help="rate limits and pumping guard on")
    parser.add_argument("--save", type=Path, help="keep the recording in this file")
    parser.add_argument("--replay", type=Path, nargs="+", help="replay these recordings")
    parser.add_argument("--replays", type=int, default=5, help="replays of each recording")
    parser.add_argument(
        "--split",
        action="store_true",
        help="each round trip's share of the CPU: the replay without it, the difference",
    )
    args = parser.parse_args()
    if args.replay:
        recordings = [Recording.load(path) for path in args.replay]
    else:
        server = start_redis()
        try:
            recording = asyncio.run(record(server.port, args.flows, abuse=args.abuse))
        finally:
            server.stop()
        recording.label = "this checkout" + (" (abuse layers on)" if args.abuse else "")
        if args.save:
            recording.save(args.save)
        recordings = [recording]
    replayer = Replayer(recordings)
    try:
        runs = [replayer.replay() for _ in range(args.replays)]
        trips = [replayer.replay(round_trips=True) for _ in range(args.replays)]
        detail = replayer.replay(slowlog=True)
    finally:
        replayer.close()
    for i, rec in enumerate(recordings):
        _print_recording(rec)
        _print_replays(rec, [run[i] for run in runs], detail[i])
        cpu = [run[i]["redis_cpu_usec"] for run in trips]
        print(
            f"  Redis CPU per flow, one round trip at a time: {statistics.median(cpu):.1f} µs "
            "(replays " + " / ".join(f"{c:.0f}" for c in cpu) + ")"
        )
        if args.split:
            _split(rec, args.replays)


if __name__ == "__main__":
    main()
