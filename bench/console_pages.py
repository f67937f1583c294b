"""The operations console's pages with 100,000 attempts in the store (issue 18: each page
under 200 ms). Not a timed test: a measurement, printed next to a baseline from the same
run (`GET /health/live`, the cheapest route of the same server).

A throwaway redis-server gets a week of attempts of one service (30 countries, 3
providers, 60 % converted, some failed and refused), written straight into the attempt
log's sorted set as store/attempts.py packs them (the per-number index only for the
numbers searched for, through AttemptStore.add). The app runs under uvicorn on loopback;
an operator signs in and each page is fetched `--rounds` times over HTTP.

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
from verify_service.domain.attempts import Attempt, AttemptStatus  # noqa: E402
from verify_service.store import Store, keys  # noqa: E402
from verify_service.store.attempts import AttemptStore, new_id, pack  # noqa: E402
from verify_service.usecases.console_auth import hash_password  # noqa: E402

SERVICE = "login"
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
        vid = None if status == "refused" else keys.new_id(keys.tag_for(SERVICE, to))
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


def fill(url: str, count: int, now: datetime) -> str:
    """Write `count` attempts; returns a verification id of the searched number."""
    client = redis.Redis.from_url(url)
    log_key = keys.attempts_log_key(SERVICE)
    rows = attempts(count, now)
    for start in range(0, len(rows), 5000):
        mapping = {}
        for _, attempt in rows[start : start + 5000]:
            score, member = pack(attempt)
            mapping[member] = score
        client.zadd(log_key, mapping)
    searched = [a for _, a in attempts(20, now - timedelta(minutes=5))]
    searched = [
        Attempt(**{**{f: getattr(a, f) for f in a.__slots__}, "to": SEARCHED, "country": "CH"})
        for a in searched
        if a.status != "refused"
    ]
    vid = keys.new_id(keys.tag_for(SERVICE, SEARCHED))
    searched = [
        Attempt(**{**{f: getattr(a, f) for f in a.__slots__}, "verification_id": vid})
        for a in searched
    ]

    async def index() -> None:
        store = Store.from_url(url)
        await store.load_scripts()
        await AttemptStore(store, retention=30 * 86400, max_per_service=10**7).add(
            SERVICE, keys.tag_for(SERVICE, SEARCHED), searched
        )
        await store.aclose()

    asyncio.run(index())
    return vid


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
        mapping = {
            "redis_url": server.url,
            "pepper": "bench-pepper-0123456789abcdef",
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
