"""The public surface of the two modules applications import: `verify_service.client` and
the pytest plugin `verify_service.testing` (httpx's tests/test_exported_members.py).

A name added, renamed or dropped is a change for every application that imports it, so it
has to be made here too, on purpose. And the blocking and the async client must offer the
same methods with the same signatures: an application switching between them changes
`await`, nothing else (httpx spells out both clients the same way)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from verify_service import client, testing
from verify_service.client import AsyncVerifyClient, VerifyClient

CLIENT_NAMES = [
    "DEFAULT_TIMEOUT",
    "ERRORS",
    "AsyncVerifyClient",
    "ChannelNotAllowedError",
    "CheckResult",
    "CountryNotAllowedError",
    "FraudSuspectedError",
    "IdempotencyInProgressError",
    "IdempotencyKeyReusedError",
    "InternalError",
    "InvalidEmailAddressError",
    "InvalidPhoneNumberError",
    "InvalidRequestError",
    "InvalidTemplateError",
    "MaxSendAttemptsError",
    "MethodNotAllowedError",
    "NotFoundError",
    "OutboxMessage",
    "PayloadTooLargeError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "RequestHeaderFieldsTooLargeError",
    "ResendTooSoonError",
    "SendAttempt",
    "StoreUnavailableError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "Verification",
    "VerificationNotFoundError",
    "VerificationNotPendingError",
    "VerifyClient",
    "VerifyConnectionError",
    "VerifyServiceError",
    "error_from_response",
]

TESTING_NAMES = [
    "API_KEY",
    "AsgiService",
    "RunningService",
    "asgi_service",
    "extract_code",
    "run_service",
    "service_config",
    "verify_client",
    "verify_service",
    "verify_service_config",
]

# The blocking client's method -> the async client's (where the name differs).
ASYNC_NAME = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
# The only annotations allowed to differ: what carries the I/O.
ASYNC_TYPE = {
    httpx.BaseTransport: httpx.AsyncBaseTransport,
    httpx.Client: httpx.AsyncClient,
}


def test_client_exports_exactly_its_public_names() -> None:
    assert client.__all__ == CLIENT_NAMES
    # (pytest's assertion rewriting adds "@py_..." names to the plugin's package)
    public = {name for name in dir(client) if name.isidentifier() and not name.startswith("_")}
    assert public == set(CLIENT_NAMES)  # nothing public beside __all__, nothing missing
    for name in CLIENT_NAMES:
        assert getattr(client, name) is not None


def test_every_error_class_is_exported_under_its_own_name() -> None:
    for cls in client.ERRORS.values():
        assert getattr(client, cls.__name__) is cls
        assert cls.__name__ in client.__all__


def test_the_old_import_paths_still_work() -> None:
    from verify_service.client import ResendTooSoonError, VerifyClient, error_from_response

    assert VerifyClient.__module__ == "verify_service.client._sync"
    assert issubclass(ResendTooSoonError, client.VerifyServiceError)
    assert callable(error_from_response)


def defined_here(module: ModuleType) -> set[str]:
    """Public names of the functions and classes a module defines (not what it imports)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == module.__name__
    }


def test_testing_exports_exactly_its_public_names() -> None:
    assert testing.__all__ == TESTING_NAMES
    for name in TESTING_NAMES:
        assert hasattr(testing, name)
    # every function and class of the plugin is either exported or underscored
    assert defined_here(testing) <= set(TESTING_NAMES)


def test_the_plugin_is_registered_by_its_entry_point(request: pytest.FixtureRequest) -> None:
    # pytest11 entry point `verify_service`: found without any conftest import
    assert request.config.pluginmanager.get_plugin("verify_service") is testing
    assert request.getfixturevalue("verify_service_config") == {}


# --- the two clients ------------------------------------------------------------------------


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    names = [n for n in dir(cls) if not n.startswith("_") or n in ASYNC_NAME]
    names += [n for n in dir(cls) if n in ASYNC_NAME.values()]
    return {n: getattr(cls, n) for n in names if inspect.isfunction(getattr(cls, n))}


def as_async(signature: inspect.Signature) -> inspect.Signature:
    """The sync signature with the I/O types swapped for their async counterparts."""

    def swap(annotation: Any) -> Any:
        for sync, async_ in ASYNC_TYPE.items():
            if annotation == sync | None:
                return async_ | None
        return annotation

    return signature.replace(
        parameters=[p.replace(annotation=swap(p.annotation)) for p in signature.parameters.values()]
    )


def test_both_clients_have_the_same_methods() -> None:
    sync, async_ = public_methods(VerifyClient), public_methods(AsyncVerifyClient)
    assert {ASYNC_NAME.get(name, name) for name in sync} == set(async_)
    assert {"start", "check", "fetch", "cancel", "test_messages"} <= set(sync)


@pytest.mark.parametrize("name", sorted(public_methods(VerifyClient)))
def test_each_method_has_the_same_signature_in_both_clients(name: str) -> None:
    sync = public_methods(VerifyClient)[name]
    async_ = public_methods(AsyncVerifyClient)[ASYNC_NAME.get(name, name)]
    # eval_str: the annotations as objects, so that equal names cannot hide different types
    assert inspect.signature(sync, eval_str=True) == inspect.signature(async_, eval_str=True)
    assert not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(async_)
    assert (sync.__doc__ or "") == (async_.__doc__ or "")


def test_the_constructors_differ_only_in_the_io_types() -> None:
    sync = inspect.signature(VerifyClient.__init__, eval_str=True)
    async_ = inspect.signature(AsyncVerifyClient.__init__, eval_str=True)
    assert sync != async_  # transport and http_client are the async kinds
    assert as_async(sync) == async_
