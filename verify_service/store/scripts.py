"""Every Lua script of the store, in one registry.

Each script is `scripts/<name>.lua`, read as package data, with the shared
`scripts/_prelude.lua` (Redis's clock, the verification key names, the end and expiry
transitions) put in front, so one script is one text, one SHA, one EVALSHA. `Scripts`
binds them to a client: `load` registers all of them with SCRIPT LOAD (at start-up, and
by readiness when Redis came up late); a call is EVALSHA, and on NOSCRIPT (Redis restarted
and lost its script cache) redis-py loads the script and retries it once.

Redis Cluster: redis-py sends SCRIPT LOAD to every primary, and each script touches only
keys of one hash tag (see `keys`), hence one slot. fakeredis runs the same Lua.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from redis.commands.core import AsyncScript

from verify_service.store.connect import RedisClient

PRELUDE = "_prelude"

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
)


def _package_data(name: str) -> str:
    return resources.files("verify_service.store").joinpath(f"scripts/{name}.lua").read_text()


@cache
def source(name: str) -> str:
    """The text Redis runs for script `name`: the prelude, then the script.
    KeyError for a name not in NAMES."""
    if name not in NAMES:
        raise KeyError(name)
    return f"{_package_data(PRELUDE)}\n{_package_data(name)}"


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

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA of `name` (SCRIPT LOAD and once more on NOSCRIPT); the raw reply."""
        return await self._scripts[name](keys=keys, args=args)
