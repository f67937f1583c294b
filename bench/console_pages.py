"""The operations console's pages with 100,000 attempts in the store (issue 18: each page
under 200 ms). Not a timed test: a measurement, printed next to a baseline from the same
run (`GET /health/live`, the cheapest route of the same server).

A throwaway redis-server gets a week of attempts of one service (30 countries, 3
providers, 60 % converted, some failed and refused), written as the service writes them:
each start's record through AttemptStore.add (attempts_add.lua: the log, the number
index and the hourly roll-ups), each approval through AttemptStore.convert, and for 90 %
of the accepted sends a delivery report through AttemptStore.report (attempts_dlr.lua;
seconds to minutes after the send, 6 % undelivered, some of those delivered later), at
its own time on the store's clock. The app runs
under uvicorn on loopback; an operator signs in and each page is fetched `--rounds`
times over HTTP. Also printed: MEMORY USAGE of the roll-ups against the log's.

usage: python bench/console_pages.py [--attempts 100000] [--rounds 15]"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.live_server import serve  # noqa: E402
from tests.support.redis_server import start_redis  # noqa: E402
from verify_service.api.app import create_app  # noqa: E402
from verify_service.config import settings_from_mapping  # noqa: E402
from verify_service.domain.attempts import Attempt, AttemptStatus, ms_of  # noqa: E402
from verify_service.store import Store, keys  # noqa: E402
from verify_service.store.attempts import AttemptStore, DeliveryUpdate, new_id  # noqa: E402
from verify_service.usecases.console_auth import hash_password  # noqa: E402

SERVICE = "login"
PEPPER = "bench-pepper-0123456789abcdef"
TAG_KEY = keys.tag_key(PEPPER.encode())  # the app's: no id_key, so the pepper's
WRITERS = 50  # writes under way at once while filling (more wait for a pool connection)
PASSWORD = "bench operator password"
COUNTRIES = [
    ("CH", "+4179"),
    ("DE", "+49151"),
    ("FR", "+336"),
    ("IT", "+39347"),
    ("AT", "+43664"),
    ("GB", "+447700"),
    ("ES", "+346"),
    ("NL", "+316"),
    ("BE", "+32470"),
    ("PL", "+48500"),
    ("SE", "+46701"),
    ("NO", "+4790"),
    ("DK", "+4520"),
    ("FI", "+35840"),
    ("PT", "+35191"),
    ("IE", "+35385"),
    ("CZ", "+420601"),
    ("HU", "+3620"),
    ("RO", "+40721"),
    ("GR", "+30690"),
    ("US", "+1202555"),
    ("CA", "+1416555"),
    ("BR", "+5511"),
    ("MX", "+5255"),
    ("IN", "+9198"),
    ("ID", "+62812"),
    ("NG", "+234803"),
    ("ZA", "+2782"),
    ("AU", "+61412"),
    ("JP", "+8190"),
]
PROVIDERS = ["alpha", "beta", "gamma"]
SEARCHED = "+41791234567"


def attempts(count: int, now: datetime) -> list[tuple[str, Attempt]]:
    rng = random.Random(18)
    made: list[tuple[str, Attempt]] = []
    for i in range(count):
        country, prefix = COUNTRIES[min(len(COUNTRIES) - 1, int(rng.expovariate(0.25)))]
        to = prefix + f"{rng.randrange(10**7):07d}"
        at = now - timedelta(seconds=rng.uniform(0, 7 * 86400 - 60))
        roll = rng.random()
        status: AttemptStatus = "refused" if roll < 0.03 else "failed" if roll < 0.08 else "sent"
        vid = None if status == "refused" else keys.new_id(keys.tag_for(TAG_KEY, SERVICE, to))
        made.append(
            (
                to,
                Attempt(
                    id=new_id(at),
                    created_at=at,
                    service=SERVICE,
                    status=status,
                    to=to,
                    country=country,
                    channel="sms",
                    provider=None if status == "refused" else PROVIDERS[i % 3],
                    verification_id=vid,
                    reason="per_number" if status == "refused" else None,
                    segments=1 if status == "sent" else 0,
                    converted=status == "sent" and rng.random() < 0.6,
                ),
            )
        )
    return made


async def write(url: str, rows: list[tuple[str, Attempt]]) -> None:
    """Each attempt as the first delivery of its verification (or a refusal; a later
    delivery where `rows` says "resend"), its approval after it; `WRITERS` calls at a
    time."""
    store = Store.from_url(url)
    await store.load_scripts()
    log = AttemptStore(store, tag_key=TAG_KEY, retention=30 * 86400, max_per_service=10**7)
    # reports on a store of their own: each sets the clock to its report's time
    reports = Store.from_url(url)
    await reports.load_scripts()
    dlr = AttemptStore(reports, tag_key=TAG_KEY, retention=30 * 86400, max_per_service=10**7)
    # filling is not measured: on a loaded machine WRITERS calls at once may queue longer
    # than a request's deadline
    store.deadline = reports.deadline = 120.0
    rng = random.Random(7)

    async def one(kind: str, attempt: Attempt) -> None:
        sent = attempt.status != "refused"
        seconds = [rng.lognormvariate(-1.6, 0.6)] if sent else [None]
        tag = keys.tag_for(TAG_KEY, SERVICE, attempt.to)
        unconverted = replace(attempt, converted=False)
        created = sent and kind != "resend"
        at_ms = ms_of(attempt.created_at)
        await log.add(SERVICE, tag, [unconverted], created=created, seconds=seconds)
        if attempt.converted and attempt.verification_id:
            credit = at_ms if attempt.status == "sent" else None
            await log.convert(SERVICE, attempt.verification_id, [at_ms], credit)
        if attempt.status == "sent" and attempt.verification_id and rng.random() < 0.9:
            statuses: list[AttemptStatus] = ["delivered"]
            if rng.random() < 0.06:
                statuses = ["undelivered", "delivered"] if rng.random() < 0.3 else ["undelivered"]
            delay = 0.0
            for status in statuses:
                delay += rng.lognormvariate(1.5, 1.2)  # seconds: median 4.5 s, a long tail
                update = DeliveryUpdate(
                    attempt.verification_id, attempt.provider or "", at_ms, status, "expired"
                )
                # the report's time on the store's clock, read by report() before it
                # first waits (so the other writers' reports do not move it)
                reports.clock_offset_ms = at_ms + int(delay * 1000) - ms_of(datetime.now(UTC))
                await dlr.report(SERVICE, [update])

    ordered = sorted(rows, key=lambda row: row[1].created_at)  # as they happened
    for start in range(0, len(ordered), WRITERS):
        await asyncio.gather(*(one(kind, a) for kind, a in ordered[start : start + WRITERS]))
    await store.aclose()
    await reports.aclose()


def fill(url: str, count: int, now: datetime) -> str:
    """Write `count` attempts, then 20 deliveries of one verification to the searched
    number (5 minutes ago); returns that verification's id."""
    vid = keys.new_id(keys.tag_for(TAG_KEY, SERVICE, SEARCHED))
    searched = [
        ("resend" if i else "", replace(a, to=SEARCHED, country="CH", verification_id=vid))
        for i, (_, a) in enumerate(attempts(20, now - timedelta(minutes=5)))
        if a.status != "refused"
    ]
    asyncio.run(write(url, attempts(count, now) + searched))
    return vid


def memory(url: str) -> str:
    """MEMORY USAGE of the roll-ups (per service-hour) next to the log's (per attempt)."""
    client = redis.Redis.from_url(url)
    tag = keys.attempts_tag(SERVICE)
    hours = [client.memory_usage(k) or 0 for k in client.scan_iter(f"vs:att:{{{tag}}}:h:*")]
    log = client.memory_usage(keys.attempts_log_key(SERVICE)) or 0
    records = client.zcard(keys.attempts_log_key(SERVICE)) or 1
    client.close()
    if not hours:
        return f"log: {log / records:.0f} B/attempt; no roll-ups"
    return (
        f"roll-ups: {len(hours)} service-hours, {sum(hours) / len(hours):.0f} B each on"
        f" average, {max(hours)} B at most, {sum(hours) / 1e6:.2f} MB in all; log:"
        f" {log / records:.0f} B/attempt, {log / 1e6:.1f} MB"
    )


def timed(client: httpx.Client, path: str, rounds: int) -> dict[str, float]:
    client.get(path)  # warm
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    server = start_redis()
    try:
        now = datetime.now(UTC)
        began = time.perf_counter()
        vid = fill(server.url, args.attempts, now)
        print(f"wrote {args.attempts} attempts in {time.perf_counter() - began:.1f} s")
        print(memory(server.url))
        mapping = {
            "redis_url": server.url,
            "pepper": PEPPER,
            "providers": {name: {"kind": "console"} for name in PROVIDERS},
            "services": [
                {"name": SERVICE, "api_keys": ["sha256:" + "0" * 64], "providers": PROVIDERS}
            ],
            "console": {
                "users": [
                    {"name": "bench", "password_hash": hash_password(PASSWORD), "services": ["*"]}
                ],
                "secure_cookie": False,
            },
        }
        app = create_app(settings_from_mapping(mapping, environ={}))
        with (
            serve(app) as base,
            httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client,
        ):
            form = client.get("/console/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            signed_in = client.post(
                "/console/login",
                data={"csrf": token.group(1), "name": "bench", "password": PASSWORD},
            )
            assert signed_in.status_code == 200, signed_in.text[:300]
            pages = {
                "baseline: GET /health/live": "/health/live",
                "Overview": "/console/",
                "Attempts (newest 50)": "/console/attempts",
                "Attempts, search by number": "/console/attempts?to=%2B41791234567",
                "Attempts, verification timeline": f"/console/attempts?verification_id={vid}",
                "Attempts, country+status filter": "/console/attempts?country=JP&status=failed",
                "Providers": "/console/providers",
                "Fraud": "/console/fraud",
            }
            results = {name: timed(client, path, args.rounds) for name, path in pages.items()}
    finally:
        server.stop()
    base_ms = results["baseline: GET /health/live"]["median_ms"]
    print(f"{'page':36} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11}")
    for name, figures in results.items():
        ratio = figures["median_ms"] / base_ms if base_ms else float("nan")
        print(f"{name:36} {figures['median_ms']:>10} {figures['p95_ms']:>8} {ratio:>11.1f}")
    print(json.dumps({"attempts": args.attempts, "pages": results}))


if __name__ == "__main__":
    main()
