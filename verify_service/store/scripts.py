"""Every Lua script of the store, in one registry.

Each script is `scripts/<name>.lua`, read as package data, with the shared
`scripts/_prelude.lua` (Redis's clock, the verification key names, the end and expiry
transitions) put in front, so one script is one text, one SHA, one EVALSHA. `Scripts`
binds them to a client: `load` registers all of them with SCRIPT LOAD (at start-up, and
by readiness when Redis came up late); a call is EVALSHA, and on NOSCRIPT (Redis restarted
and lost its script cache) redis-py loads the script and retries it once.

Redis Cluster: redis-py sends SCRIPT LOAD to every primary, and each script touches only
keys of one hash tag (see `keys`), hence one slot. fakeredis runs the same Lua.

Chains (`Scripts.chain`): calls that follow each other on a request's path run as one
EVALSHA of a chain script on one server (CHAINS: the abuse checks of a start, then the
start; an approval, then the pumping guard's count and the attempt log's conversion; a
send's record, its attempt-log records and its message-id index): the parts, each its
script's own text as a function, run in order while each lets the next one go on. One
round trip and one TIME instead of one per script; the same order, the same refusals,
and atomic together. A guarded part (`Call.guarded`: a side effect that must not undo
or fail the main one) runs under `pcall`: when it raises, its reply is
`[PART_FAILED, message]` and the chain goes on as its words say. On a Cluster the parts'
keys are in different slots: one call each, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from verify_service.store.connect import RedisClient

PRELUDE = "_prelude"
CHAIN = "chain"  # the text that runs a chain's parts (scripts/chain.lua)
# Each chain script -> the scripts it runs as parts (each is also a script of its own).
CHAINS: dict[str, tuple[str, ...]] = {
    # a start: the pumping guard, the rate limits, then the start itself
    "chain": ("fraud_start", "ratelimit", "start"),
    # a check's approval, then the pumping guard's count and the attempt log's conversion
    "chain_approve": ("finish", "fraud_approve", "attempts_convert"),
    # a send's outcome, its records in the attempt log, then its message-id index
    "chain_send": ("record_send", "attempts_add", "message_index"),
}
CHAINED = tuple(part for parts in CHAINS.values() for part in parts)
_CHAIN_OF = {part: chain for chain, parts in CHAINS.items() for part in parts}
# A word of `Call.goes_on`: the next part runs whatever this one replied.
ANY = "*"
# The first word of a guarded part's reply when it raised (the message follows).
PART_FAILED = "part_failed"

# name -> KEYS it takes; ARGV are named at the top of each script.
NAMES = (
    "start",  # keys.prefix(tag)
    "record_send",  # keys.prefix(tag)
    "reserve",  # keys.prefix(tag)
    "finish",  # keys.prefix(tag)
    "end_pending",  # keys.prefix(tag)
    "fetch",  # keys.prefix(tag)
    "report",  # keys.prefix(tag)
    "fraud_start",  # fraud_keys(service): ranges, lru, blocks, allow, seen
    "fraud_approve",  # fraud_keys(service): ranges, lru
    "fraud_lift",  # fraud_keys(service): ranges, blocks, lifts
    "fraud_list",  # fraud_keys(service): blocks, allow, lifts
    "fraud_allow",  # fraud_keys(service): allow
    "outbox_push",  # keys.outbox_key(to)
    "ratelimit",  # keys.rate_key(...) of each layer (store/limiter.py)
    "attempts_add",  # attempts log, numbers, since keys(service), hour key of each record
    "attempts_convert",  # attempts log, since keys(service), hour key of the first time
    "attempts_rollups",  # attempts log, since keys(service), attempts_hour_key(service, h)...
    "attempts_read",  # keys.attempts_log_key(service)[, keys.attempts_numbers_key(service)]
    "attempts_dlr",  # keys.attempts_log_key(service)
    "workflow_schedule",  # keys.workflow_due_key(), keys.workflow_steps_key()
    "workflow_claim",  # keys.workflow_due_key(), keys.workflow_steps_key()
    "workflow_advance",  # keys.workflow_due_key(), keys.workflow_steps_key()
    "workflow_step",  # keys.prefix(tag)
    "message_index",  # keys.message_key(provider, message id) of each message of a send
    *CHAINS,  # the KEYS of its parts, in order (Scripts.chain)
)


def _package_data(name: str) -> str:
    return resources.files("verify_service.store").joinpath(f"scripts/{name}.lua").read_text()


@cache
def source(name: str) -> str:
    """The text Redis runs for script `name`: the prelude, then the script.
    KeyError for a name not in NAMES."""
    if name not in NAMES:
        raise KeyError(name)
    if name in CHAINS:
        return _chain_source(CHAINS[name])
    return f"{_package_data(PRELUDE)}\n{_package_data(name)}"


# One TIME per chain: the parts read the clock through this `now_ms`, which shadows the
# prelude's (the same value, read once).
_CHAIN_CLOCK = """
local chain_clock = nil
local function now_ms(clock_offset_ms)
  if not chain_clock then
    local t = redis.call('TIME')
    chain_clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return chain_clock + tonumber(clock_offset_ms)
end
"""


def _chain_source(chained: Sequence[str]) -> str:
    parts = "".join(
        f"local function part_{name}(KEYS, ARGV)\n{_package_data(name)}\nend\n" for name in chained
    )
    table = ", ".join(f"{name} = part_{name}" for name in chained)
    return (
        f"{_package_data(PRELUDE)}\n{_CHAIN_CLOCK}{parts}local PARTS = {{{table}}}\n"
        f"{_package_data(CHAIN)}"
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One script call, prepared (`Scripts.chain`): the script's name, its KEYS and ARGV,
    the first words of its reply after which the next call of a chain runs (ANY: every
    reply), and whether it is `guarded`: a side effect whose failure (a Lua error, or on a
    Cluster a Redis error) becomes its reply `[PART_FAILED, message]` instead of failing
    the chain."""

    name: str
    keys: Sequence[str]
    args: Sequence[Any]
    goes_on: tuple[str, ...] = ()
    guarded: bool = False


def failed(reply: Any) -> bool:
    """Whether `reply` is a guarded part's that raised (`Call.guarded`), or an exception
    caught in its place."""
    if isinstance(reply, Exception):
        return True
    return isinstance(reply, list) and len(reply) > 0 and reply[0] == PART_FAILED


def _goes_on(call: Call, reply: Any) -> bool:
    first = reply[0] if isinstance(reply, list) and reply else reply
    return ANY in call.goes_on or str(first) in call.goes_on


class Scripts:
    """The scripts of NAMES bound to one client; `[name]` is the redis-py script object
    (its `.sha` for EVALSHA in a pipeline)."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client
        self._scripts = {name: client.register_script(source(name)) for name in NAMES}

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def load(self) -> None:
        """SCRIPT LOAD every script: requests then go straight to EVALSHA."""
        for script in self._scripts.values():
            script.sha = await self.client.script_load(script.script)

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """EVALSHA of `name` (SCRIPT LOAD and once more on NOSCRIPT); the raw reply."""
        return await self._scripts[name](keys=keys, args=args)

    async def chain(self, calls: Sequence[Call], *, together: bool) -> list[Any]:
        """Run `calls` in order, each only when the reply of the one before begins with
        one of its `goes_on` words (or they hold ANY); the replies of those that ran.
        `together` (one Redis server, keys of any slot in one script): one EVALSHA of the
        chain script of their parts (CHAINS), atomic; otherwise (a Cluster) one call each,
        a guarded one's RedisError replied as `[PART_FAILED, message]`. Every name must be
        a part of the same chain, in that chain's order or a subsequence of it."""
        if together and len(calls) > 1:
            parts: list[str] = []
            keys: list[str] = []
            args: list[Any] = [""]  # the spec, then the parts' arguments
            for c in calls:
                words = ",".join(c.goes_on)
                parts.append(f"{c.name}:{len(c.keys)}:{len(c.args)}:{words}:{int(c.guarded)}")
                keys += c.keys
                args += c.args
            args[0] = " ".join(parts)
            return list(await self.run(_CHAIN_OF[calls[0].name], keys, args))
        replies = []
        for call in calls:
            try:
                reply = await self.run(call.name, call.keys, call.args)
            except RedisError as exc:
                if not call.guarded:
                    raise
                reply = [PART_FAILED, str(exc)]
            replies.append(reply)
            if not _goes_on(call, reply):
                break
        return replies
