"""Status events: a signed POST to a service's `status_callback_url` on every status change.

Delivery never blocks the request path: `emit()` puts the event on a bounded in-process
queue (full = dropped and counted) and a few background tasks send it, retried with
backoff. It is best effort and at-least-once while the process lives: receivers dedupe on
`webhook-id`, which stays the same across retries. Events never carry the code.

Signing follows Standard Webhooks (standardwebhooks.com) through webhooks/signing.py:
    webhook-id:        evt_<random>
    webhook-timestamp: unix seconds of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>
The key follows signing.py's rule (`whsec_` + base64 of 24-64 bytes); a secret written
before that rule keeps the key it had then (`signing.lenient_key`: the UTF-8 bytes of a
secret without the prefix)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from verify_service import __version__
from verify_service.domain.timestamps import rfc3339
from verify_service.observability.metrics import Metrics
from verify_service.webhooks.signing import lenient_key, signature, signature_headers

log = logging.getLogger("verify_service.webhooks.callbacks")

EVENT_TYPE = "verification.status_changed"
QUEUE_SIZE = 10_000
WORKERS = 4
TIMEOUT = 5.0
# Delays before the 2nd, 3rd, … attempt: about 1 minute of trying in all.
BACKOFF = (0.5, 2.0, 8.0, 30.0)
SHUTDOWN_GRACE = 5.0


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one attempt; ValueError for a secret that
    `signing.lenient_key` refuses (config validation refuses it first)."""
    return signature(lenient_key(secret), event_id, timestamp, body)


def verify_signature(
    secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300
) -> bool:
    """What a receiver does (also used by our tests): check the timestamp is recent and one
    of the space-separated signatures matches."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, headers.get("webhook-id", ""), timestamp, body)
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, one) for one in given)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    service: str
    url: str
    secret: str
    event_id: str
    body: bytes


def event_body(verification: dict[str, Any], status: str) -> bytes:
    """The Standard Webhooks payload shape: type, timestamp, data. `data` is the public
    verification view (the same fields as GET /v1/verifications/{id}), never the code."""
    payload = {
        "type": EVENT_TYPE,
        "timestamp": rfc3339(datetime.now(UTC)),
        "data": {**verification, "status": status},
    }
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


class StatusEvents:
    def __init__(
        self,
        metrics: Metrics,
        *,
        queue_size: int = QUEUE_SIZE,
        workers: int = WORKERS,
        backoff: Sequence[float] = BACKOFF,
        timeout: float = TIMEOUT,
    ) -> None:
        self.metrics = metrics
        self.backoff = tuple(backoff)
        self.timeout = timeout
        self._queue_size = queue_size
        self._workers = workers
        self._queue: asyncio.Queue[StatusEvent] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def emit(
        self, *, service: str, url: str, secret: str, verification: dict[str, Any], status: str
    ) -> None:
        """Queue an event; never waits. Starts the senders on first use (inside the loop)."""
        if self._queue is None:
            self._start()
        assert self._queue is not None
        event = StatusEvent(
            service, url, secret, "evt_" + secrets.token_hex(12), event_body(verification, status)
        )
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.metrics.events.labels(service, "dropped").inc()
            log.warning("status event dropped: queue full", extra={"event_service": service})

    def _start(self) -> None:
        self._queue = asyncio.Queue(self._queue_size)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            headers={"User-Agent": f"verify-service/{__version__}"},
            follow_redirects=False,
        )
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self._workers)]

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            except Exception:  # a bug in one delivery must not stop the sender
                log.exception("status event delivery crashed")
            finally:
                self._queue.task_done()

    async def _deliver(self, event: StatusEvent) -> None:
        for attempt in range(len(self.backoff) + 1):
            if attempt:
                await asyncio.sleep(self.backoff[attempt - 1])
            outcome = await self._post(event)
            if outcome == "delivered":
                self.metrics.events.labels(event.service, "delivered").inc()
                return
            if outcome == "permanent":
                break
        self.metrics.events.labels(event.service, "failed").inc()
        log.warning(
            "status event not delivered",
            extra={"event_id": event.event_id, "attempts": attempt + 1},
        )

    async def _post(self, event: StatusEvent) -> str:
        assert self._client is not None
        timestamp = int(time.time())
        key = lenient_key(event.secret)
        headers = {
            "content-type": "application/json",
            **signature_headers(key, event.event_id, timestamp, event.body),
        }
        try:
            response = await self._client.post(event.url, content=event.body, headers=headers)
        except httpx.HTTPError as exc:
            log.info(
                "status event attempt failed",
                extra={"event_id": event.event_id, "error": type(exc).__name__},
            )
            return "retry"
        if 200 <= response.status_code < 300:
            return "delivered"
        log.info(
            "status event attempt refused",
            extra={"event_id": event.event_id, "http_status": response.status_code},
        )
        # 408, 429 and 5xx may pass; any other 4xx will not, however often we try.
        if response.status_code in (408, 429) or response.status_code >= 500:
            return "retry"
        return "permanent"

    async def drain(self, seconds: float) -> bool:
        """Wait until the queue is empty (tests, shutdown); False when time ran out."""
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), seconds)
        except TimeoutError:
            return False
        return True

    async def aclose(self, grace: float = SHUTDOWN_GRACE) -> None:
        """At shutdown: give queued events a short grace, then count the rest as dropped."""
        if self._queue is None:
            return
        await self.drain(grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._queue.empty():
            event = self._queue.get_nowait()
            self.metrics.events.labels(event.service, "dropped").inc()
        if self._client is not None:
            await self._client.aclose()
        self._queue = None
        self._tasks = []
        self._client = None
