"""What every HTTP kind shares: HTTP-level failures, timeouts, refused connections,
Retry-After, keep-alive, and never the message text in a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fake_http import FakeServer, Handler, Reply, refused_url
from tests.unit.providers.kinds.conftest import MESSAGE, MakeProvider
from tests.unit.providers.kinds.fakes import KINDS
from verify_service.providers.base import ProviderError

pytestmark = pytest.mark.parametrize("kind", sorted(KINDS))


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer], kind: str) -> FakeServer:
    return start_fake(KINDS[kind][0])


def config(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    return KINDS[kind][1](url, **extra)


async def test_the_documented_fake_accepts_what_we_send(
    fake: FakeServer, make_provider: MakeProvider, kind: str
) -> None:
    result = await make_provider(config(kind, fake.url)).send(MESSAGE)
    assert result.message_id
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retryable(
    fake: FakeServer, make_provider: MakeProvider, kind: str, status: int
) -> None:
    fake.script(Reply(status, body=b"<html>Bad gateway</html>"))
    with pytest.raises(ProviderError) as exc:
        await make_provider(config(kind, fake.url)).send(MESSAGE)
    assert exc.value.retryable is True
    assert exc.value.recipient_invalid is False
    assert str(status) in exc.value.reason


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0)]
)
async def test_quota_429_is_retryable_and_passes_retry_after(
    fake: FakeServer, make_provider: MakeProvider, kind: str, header: str, seconds: float
) -> None:
    fake.script(Reply(429, json={"error": "too many requests"}, headers={"Retry-After": header}))
    with pytest.raises(ProviderError) as exc:
        await make_provider(config(kind, fake.url)).send(MESSAGE)
    assert exc.value.retryable is True
    assert exc.value.retry_after == seconds


async def test_a_timeout_is_retryable(
    fake: FakeServer, make_provider: MakeProvider, kind: str
) -> None:
    fake.script(Reply(delay=2.0))
    with pytest.raises(ProviderError) as exc:
        await make_provider(config(kind, fake.url, timeout=0.2)).send(MESSAGE)
    assert exc.value.retryable is True
    assert "timeout" in exc.value.reason


async def test_a_refused_connection_is_retryable(make_provider: MakeProvider, kind: str) -> None:
    with pytest.raises(ProviderError) as exc:
        await make_provider(config(kind, refused_url())).send(MESSAGE)
    assert exc.value.retryable is True
    assert "network error" in exc.value.reason


async def test_connections_are_kept_alive(
    fake: FakeServer, make_provider: MakeProvider, kind: str
) -> None:
    provider = make_provider(config(kind, fake.url))
    for _ in range(3):
        await provider.send(MESSAGE)
    assert len({r.client_port for r in fake.requests}) == 1


async def test_reasons_never_carry_the_message_text(
    fake: FakeServer, make_provider: MakeProvider, kind: str
) -> None:
    # A provider that echoes the whole request in every error field it has.
    echo = {
        "statusCode": 4009,
        "statusMessage": MESSAGE.text,
        "results": [{"error_code": MESSAGE.text}],
        "response": {"code": "7999", "description": MESSAGE.text},
        "status": -7,
        "message": MESSAGE.text,
        "error": MESSAGE.text,
    }
    # For `http`, a success rule on a field that now holds the text.
    rule = {"success_field": "error", "success_value": "none"} if kind == "http" else {}
    provider = make_provider(config(kind, fake.url, **rule))
    for status in (200, 400, 422, 500):
        fake.script(Reply(status, json=echo))
        with pytest.raises(ProviderError) as exc:
            await provider.send(MESSAGE)
        assert "482913" not in exc.value.reason
        assert MESSAGE.text not in str(exc.value)
