"""The Python client against a running service, used the way an application uses it:
only `verify_service.client` and the pytest plugin's `verify_service` fixture."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from verify_service.client import (
    ERRORS,
    AsyncVerifyClient,
    InvalidPhoneNumberError,
    InvalidRequestError,
    ResendTooSoonError,
    UnauthorizedError,
    VerificationNotFoundError,
    VerificationNotPendingError,
    VerifyClient,
    VerifyConnectionError,
    VerifyServiceError,
)
from verify_service.testing import RunningService

TO = "+41791234567"


def test_login_flow_start_read_code_check_approved(
    verify_service: RunningService, verify_client: VerifyClient
) -> None:
    started = verify_client.start("079 123 45 67", metadata={"user": "42"})
    assert started.to == TO
    assert started.pending
    assert started.metadata == {"user": "42"}
    assert started.send_attempts[0].status == "sent"

    code = verify_service.last_code(TO)
    assert len(code) == 6
    result = verify_client.check(code, to=TO)
    assert result.approved
    assert result.id == started.id
    assert verify_client.fetch(started.id).status == "approved"

    replay = verify_client.check(code, verification_id=started.id)
    assert (replay.valid, replay.status, replay.approved) == (False, "approved", False)


def test_wrong_code_is_a_result_not_an_exception(
    verify_service: RunningService, verify_client: VerifyClient
) -> None:
    verify_client.start(TO)
    wrong = "000000" if verify_service.last_code(TO) != "000000" else "111111"
    result = verify_client.check(wrong, to=TO)
    assert (result.valid, result.status, result.attempts_remaining) == (False, "pending", 4)


def test_resend_too_soon_carries_retry_after(verify_client: VerifyClient) -> None:
    verify_client.start(TO)
    with pytest.raises(ResendTooSoonError) as caught:
        verify_client.start(TO)
    error = caught.value
    assert (error.code, error.status) == ("resend_too_soon", 429)
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 30  # the service's default resend_cooldown
    assert isinstance(error, VerifyServiceError)


def test_unknown_verification_is_not_found(verify_client: VerifyClient) -> None:
    with pytest.raises(VerificationNotFoundError) as caught:
        verify_client.check("123456", to=TO)
    assert caught.value.status == 404
    with pytest.raises(VerificationNotFoundError):
        verify_client.fetch("ver_0123456789abcdef0123456789abcdef")
    # Quoted into one path segment: never reaches another route (here /health/live).
    with pytest.raises(VerifyServiceError) as other:
        verify_client.fetch("../../health/live")
    assert other.value.status == 404


def test_cancel_then_cancel_again(verify_client: VerifyClient) -> None:
    started = verify_client.start(TO)
    assert verify_client.cancel(started.id).status == "canceled"
    with pytest.raises(VerificationNotPendingError) as caught:
        verify_client.cancel(started.id)
    assert caught.value.status == 409
    assert caught.value.body["verification_status"] == "canceled"


def test_bad_input_and_bad_key(verify_service: RunningService) -> None:
    with verify_service.client() as client:
        with pytest.raises(InvalidPhoneNumberError):
            client.start("not a number")
        with pytest.raises(InvalidRequestError):
            client.start(TO, token_length=99)
    with (
        VerifyClient(verify_service.url, "wrong-key") as client,
        pytest.raises(UnauthorizedError) as caught,
    ):
        client.start(TO)
    assert caught.value.status == 401


def test_idempotency_key_sends_once(
    verify_service: RunningService, verify_client: VerifyClient
) -> None:
    first = verify_client.start(TO, idempotency_key="order-1")
    again = verify_client.start(TO, idempotency_key="order-1")
    assert again.id == first.id
    assert len(verify_service.messages(TO)) == 1


def test_environment_configures_the_client(verify_service: RunningService) -> None:
    # The fixture sets VERIFY_URL and VERIFY_API_KEY for the test's duration.
    with VerifyClient() as client:
        assert client.start(TO).to == TO


def test_missing_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFY_URL", raising=False)
    monkeypatch.delenv("VERIFY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="VERIFY_API_KEY"):
        VerifyClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="VERIFY_URL"):
        VerifyClient(api_key="k")


def test_check_needs_exactly_one_target(verify_client: VerifyClient) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        verify_client.check("123456")


async def test_async_client_login_flow(verify_service: RunningService) -> None:
    async with verify_service.async_client() as client:
        started = await client.start(TO)
        result = await client.check(verify_service.last_code(TO), verification_id=started.id)
        assert result.approved
        await client.start("+41791234568")
        with pytest.raises(ResendTooSoonError):
            await client.start("+41791234568")
        with pytest.raises(VerificationNotFoundError):
            await client.cancel("ver_nope")
        assert (await client.fetch(started.id)).status == "approved"


def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        VerifyClient(f"http://127.0.0.1:{port}", "k") as client,
        pytest.raises(VerifyConnectionError) as caught,
    ):
        client.start(TO)
    assert caught.value.status is None


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_timeout_is_a_connection_error(silent_server: str) -> None:
    with (
        VerifyClient(silent_server, "k", timeout=0.2) as client,
        pytest.raises(VerifyConnectionError, match="ReadTimeout"),
    ):
        client.fetch("ver_x")


def _answering(status: int, body: bytes, headers: dict[str, str]) -> VerifyClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return VerifyClient("http://verify.test", "k", transport=httpx.MockTransport(handler))


def test_retry_after_from_header_or_body() -> None:
    problem = b'{"code":"rate_limited","status":429,"detail":"slow down","retry_after":7}'
    with (
        _answering(429, problem, {"Retry-After": "12"}) as client,
        pytest.raises(ERRORS["rate_limited"]) as caught,
    ):
        client.start(TO)
    assert (caught.value.retry_after, caught.value.detail) == (12, "slow down")
    with (
        _answering(429, problem, {}) as client,
        pytest.raises(ERRORS["rate_limited"]) as caught,
    ):
        client.start(TO)
    assert caught.value.retry_after == 7


def test_unknown_code_and_non_problem_answers_raise_the_base_class() -> None:
    with (
        _answering(418, b'{"code":"teapot","detail":"short and stout"}', {}) as client,
        pytest.raises(VerifyServiceError) as caught,
    ):
        client.start(TO)
    assert (caught.value.code, caught.value.status) == ("teapot", 418)
    with (
        _answering(502, b"<html>bad gateway</html>", {}) as client,
        pytest.raises(VerifyServiceError) as caught,
    ):
        client.start(TO)
    assert type(caught.value) is VerifyServiceError
    assert caught.value.status == 502


def test_every_server_error_code_has_its_exception_class() -> None:
    from verify_service.domain.errors import ERRORS as SERVER_ERRORS

    assert set(SERVER_ERRORS) <= set(ERRORS)
    for code, cls in ERRORS.items():
        assert cls.code == code
        assert issubclass(cls, VerifyServiceError)


def test_the_client_imports_no_server_dependency() -> None:
    code = (
        "import sys, verify_service.client\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'litestar', 'redis', 'fakeredis', 'pydantic', 'argon2', 'phonenumbers', 'msgspec'})\n"
        "print(heavy)\n"
        "assert not heavy\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


async def test_async_client_over_an_asgi_transport_needs_no_port() -> None:
    from verify_service.testing import asgi_service

    async with asgi_service({"service": {"resend_cooldown": 0}}) as service:
        async with service.client() as client:
            await client.start(TO)
            await client.start(TO)  # cooldown 0: a resend with a second code
            assert len(await service.messages(TO)) == 2
            result = await client.check(await service.last_code(TO), to=TO)
            assert result.approved
        # closing the client left the shared transport open
        assert (await service.client().fetch(result.id)).status == "approved"


def test_async_client_class_is_exported() -> None:
    assert AsyncVerifyClient.__name__ in __import__("verify_service.client").client.__all__


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        ("Verification", "VerificationOut"),
        ("CheckResult", "CheckOut"),
        ("SendAttempt", "SendAttemptOut"),
    ],
)
def test_client_models_match_the_api_schemas(model: str, schema: str) -> None:
    import dataclasses

    from verify_service import client
    from verify_service.api.native import schemas

    client_fields = {f.name for f in dataclasses.fields(getattr(client, model))}
    assert client_fields == set(getattr(schemas, schema).__struct_fields__)
