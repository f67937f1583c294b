"""Counting the Redis commands an action sends, as the server itself saw them (MONITOR)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis


class CommandLog:
    """What MONITOR reported, with ECHO markers to cut out one action's commands."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._markers = itertools.count()
        self.seen: list[str] = []

    def record(self, event: dict[str, object]) -> None:
        command = str(event["command"])
        if event.get("client_type") == "lua":  # commands run inside our scripts
            self.seen.append(f"lua:{command.split(' ', 1)[0].upper()}")
            return
        self.seen.append(command if command.startswith("ECHO") else command.upper())

    async def commands_of(self, action: Awaitable[object], *, inside: bool = False) -> list[str]:
        """The commands the action sent, between two ECHO markers seen by the server;
        `inside`: also those its scripts ran, as `lua:NAME`."""
        n = next(self._markers)
        await self._client.echo(f"begin-{n}")
        await action
        await self._client.echo(f"end-{n}")
        for _ in range(100):  # MONITOR lines arrive asynchronously
            if f"ECHO end-{n}" in self.seen:
                break
            await asyncio.sleep(0.02)
        seen = self.seen
        window = seen[seen.index(f"ECHO begin-{n}") + 1 : seen.index(f"ECHO end-{n}")]
        return [c.split(" ", 1)[0] for c in window if inside or not c.startswith("lua:")]


@asynccontextmanager
async def monitored(url: str, client: aioredis.Redis) -> AsyncIterator[CommandLog]:
    """A CommandLog for the commands `client` sends to the server at `url`."""
    log = CommandLog(client)
    monitor_client = aioredis.Redis.from_url(url, decode_responses=True)
    ready = asyncio.Event()

    async def watch() -> None:
        async with monitor_client.monitor() as m:
            ready.set()
            async for event in m.listen():
                log.record(event)

    watcher = asyncio.create_task(watch())
    try:
        await ready.wait()
        await asyncio.sleep(0.1)  # MONITOR is subscribed once the server has answered
        yield log
    finally:
        watcher.cancel()
        await monitor_client.aclose()
