"""Why Redis cannot be reached, in words a person can act on: for the start-up log line
and the readiness answer. Names the address (password masked) and the cause."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from verify_service.store.connect import describe


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def cause(exc: BaseException) -> str:
    """The root cause of a failed Redis call: DNS, refused, TLS, timeout, auth, …"""
    for error in _chain(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS: the server's certificate is not trusted ({error.verify_message})"
        if isinstance(error, ssl.SSLError):
            return f"TLS handshake failed ({error.reason or error})"
        if isinstance(error, socket.gaierror):
            return f"DNS: the host name does not resolve ({error.strerror})"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused (is redis-server running and listening there?)"
        if isinstance(error, FileNotFoundError):
            return "no such socket file"
        if isinstance(error, TimeoutError | RedisTimeoutError):
            return "no answer in time (a firewall, or the wrong host?)"
        if isinstance(error, AuthenticationError) or (
            isinstance(error, ResponseError) and str(error).startswith(("NOAUTH", "WRONGPASS"))
        ):
            return "authentication failed (check the user and password in redis_url)"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def unreachable(url: str, exc: BaseException) -> str:
    """`Redis at redis://:***@db:6379/0 is not reachable: connection refused (…)`."""
    return f"Redis at {describe(url)} is not reachable: {cause(exc)}"
