"""A client that goes away before its request body has arrived is not a server error: the
request is logged and counted as 499 ("client closed request", nginx's word) at INFO,
in every dialect. Before, it was a 500 logged at ERROR and counted in the 5xx metrics, so
that anyone could make the service report failures it never had (and alerts on the 5xx
rate fire on mobile clients losing their connection)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from litestar.types import Message

from tests.conftest import API_KEY, config
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

SETTINGS = settings_from_mapping(config(), environ={})
SERVICE = SETTINGS.services[0]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"100"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


JSON = (b"content-type", b"application/json")


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/verifications", [(b"authorization", f"Bearer {API_KEY}".encode()), JSON]),
        (
            f"/v2/Services/{SERVICE.twilio_service_sid}/Verifications",
            [(b"content-type", b"application/x-www-form-urlencoded")],
        ),
        (
            "/messaging/tokenvalidation",
            [(b"client_id", API_KEY.encode()), (b"scs-version", b"2"), JSON],
        ),
    ],
)
async def test_a_client_gone_mid_body_is_a_499_not_a_server_error(
    path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    app = create_app(SETTINGS)
    incoming: list[Any] = [
        {"type": "http.request", "body": b'{"to":', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(60)  # nothing more comes from a closed connection
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        pass  # the client is gone: whatever is sent goes nowhere

    seen = Records()
    logger = logging.getLogger("verify_service.http")
    logger.addHandler(seen)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        await app(scope(path, headers), receive, send)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(seen)
        logger.setLevel(level)
    (line,) = [r for r in seen.records if r.getMessage().startswith("POST ")]
    assert (line.levelno, line.__dict__["status"]) == (logging.INFO, 499)
    counted = {
        sample.labels["status"]
        for metric in app.state.metrics.registry.collect()
        if metric.name == "verify_http_requests"
        for sample in metric.samples
        if sample.name == "verify_http_requests_total"
    }
    assert counted == {"499"}
