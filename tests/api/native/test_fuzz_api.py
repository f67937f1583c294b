"""Schema-driven fuzzing of every route in `openapi.yaml` (schemathesis, in-process ASGI).

Whatever is in the published document is fuzzed: routes that other dialects add to
`openapi.yaml` are picked up without touching this file. Generation is derandomised
(fixed seed, bounded examples) so that a failure reproduces and CI time stays bounded.

Checks: no 5xx, responses conform to their declared schema, status and content type, and
schema-valid requests are accepted (a 400 is allowed there: a string that fits the schema
may still not be a phone number, which only the business rules can tell). A stateful run
follows the OpenAPI links of `startVerification` (fetch, check and cancel by id)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase

from tests.conftest import API_KEY, config
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

pytestmark = pytest.mark.slow  # fuzzing: about a minute

OPENAPI = Path(__file__).resolve().parents[3] / "openapi.yaml"
SEED = 20261121
EXAMPLES_PER_OPERATION = 200
STATEFUL_SCENARIOS = 100
MIN_REQUESTS = 2000


class CountingApp:
    """ASGI wrapper that counts every request the fuzzer makes and every 5xx answer, so the
    totals include the extra requests that checks send on their own (no auth, wrong method)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def _fuzz_settings() -> Any:
    # Plenty of numbers and services so that fuzzed starts are not all refused as resends;
    # long cooldown-free limits keep the generator exploring rather than hitting 429 only.
    return settings_from_mapping(
        config(service={"max_send_attempts": 100, "max_check_attempts": 100}), environ={}
    )


APP = CountingApp(create_app(_fuzz_settings()))

schema = schemathesis.openapi.from_path(
    OPENAPI,
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "mode": "all",
                "database": "none",
            },
            # Every method, OPTIONS included: its `Allow` must name what the route serves
            # (api/allow.py works around litestar#4169 for paths shared by two handlers).
            "phases": {
                "coverage": {
                    "unexpected-methods": [
                        "get",
                        "put",
                        "post",
                        "delete",
                        "patch",
                        "options",
                        "trace",
                    ]
                }
            },
            "checks": {
                # A schema-valid `to` such as "0" is still not a phone number (400), and an
                # Idempotency-Key replayed with another body is refused (422): both correct.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429"]
                },
            },
        }
    ),
)
schema.app = APP


SETTINGS = _fuzz_settings()
SERVICE = SETTINGS.services[0]


@schema.auth()
class TestApiKey:
    """The test API key, as explicit auth in each dialect's own form (Bearer, Twilio's Basic
    AccountSid:AuthToken, Swisscom's `client_id` header): the `ignored_auth` check then
    replays each successful call without it and with a wrong key, and expects 401."""

    def get(self, case: Any, context: Any) -> str:
        return API_KEY

    def set(self, case: Any, data: str, context: Any) -> None:
        headers = dict(case.headers or {})
        path = case.operation.path
        if path.startswith("/v2/"):
            basic = base64.b64encode(f"{SERVICE.twilio_account_sid}:{data}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        elif path.startswith("/messaging/"):
            # Swisscom's scheme is a header, which the generator writes too: a negative case
            # that leaves it out must reach the server without it (401), not with it put back.
            negative = (
                case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
            )
            if not (negative and "client_id" not in headers):
                headers["client_id"] = data
        else:
            headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


# Random strings are almost never phone numbers, so without help every start would stop at
# 400 invalid_phone_number and the code paths behind it (store, provider, check) would go
# unfuzzed. Most positive cases get a real number (any dialect: `to`, `To`, `{msisdn}`), in
# the many spellings callers use, and the service's own Twilio ServiceSid.
REAL_NUMBERS = (
    "+41791234567",
    "079 123 45 67",
    "0041 79 123 45 68",
    "+41 (0)79 123 45 69",
    "+4915112345678",
    "+447700900123",
    "+41790000001",
)


def _fits(value: Any) -> bool:
    """A phone number field's schema: a string of 1 to 32 characters."""
    return isinstance(value, str) and 1 <= len(value) <= 32


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    # A map (not a strategy) so that it also applies to the coverage phase's cases; only
    # positive cases are touched (negative ones must stay invalid), and the choice is a
    # digest of the case, which keeps the run deterministic. A value is replaced only where
    # it fits its schema (1-32 characters): a case can be negative in one parameter while
    # the hook still sees it as positive, and that parameter must reach the server as is.
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    # Parts left unset are schemathesis' NotSet, whose repr holds a memory address: named
    # by type instead, so that the same case picks the same way in every run.
    parts = (case.body, case.path_parameters, case.query)
    seen = repr([p if isinstance(p, (dict, list, str, bytes)) else type(p).__name__ for p in parts])
    pick = int(hashlib.sha256(seen.encode()).hexdigest(), 16)
    if pick % 4 == 0:  # a quarter stays as generated: odd input must be refused cleanly
        return case
    number = REAL_NUMBERS[pick % len(REAL_NUMBERS)]
    if meta.phase.name == TestPhase.STATEFUL:
        # One number per scenario (the store is emptied before each): a check by number
        # after a start then finds what the start created. A check of another number is
        # a correct 404, which the stateful check ST302 would read as a lost resource.
        number = REAL_NUMBERS[0]
    # Path parameters in place, not replaced: the generator may still turn this case
    # negative in its path by mutating this very dict, and that must land on what is sent.
    params = case.path_parameters
    if isinstance(params, dict):
        if "service_sid" in params:
            params["service_sid"] = SERVICE.twilio_service_sid
        if _fits(params.get("msisdn")):
            params["msisdn"] = "0" + number.replace(" ", "")[-9:]
    # The body as a copy, as before.
    if isinstance(case.body, dict):
        body = dict(case.body)
        for key in ("to", "To"):
            if _fits(body.get(key)):
                body[key] = number
        for key in ("template", "text"):
            text = body.get(key)
            # Not cut to length: a text over the schema's limit must stay over it.
            if isinstance(text, str) and len(text) <= 600 and "%TOKEN%" not in text:
                body[key] = text + " %TOKEN%"
        case.body = body
    return case


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_survives_fuzzing(case: Any) -> None:
    case.call_and_validate()


class StatefulFuzz(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Each scenario starts on an empty store: Hypothesis replays choice prefixes and
        # expects the same answers, which a start refused as a resend (or rate limited)
        # because of an earlier scenario's numbers would not give.
        asyncio.run(APP.app.state.components.store.client.flushall())


TestStatefulFlows = StatefulFuzz.TestCase
TestStatefulFlows.settings = settings(
    max_examples=STATEFUL_SCENARIOS,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_fuzzing_volume_and_no_server_error() -> None:
    """Runs after the fuzzers above (file order): the totals the report quotes."""
    if APP.requests == 0:
        pytest.skip("the fuzzers did not run in this session (selected out)")
    server_errors = sum(n for status, n in APP.statuses.items() if status >= 500)
    print(f"\nfuzzed requests: {APP.requests}; statuses: {dict(sorted(APP.statuses.items()))}")
    assert server_errors == 0, APP.statuses
    assert APP.requests >= MIN_REQUESTS
