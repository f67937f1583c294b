"""Command line: serve, openapi, check-config, init-config, hash-api-key, hash-password."""

from __future__ import annotations

import argparse
import errno
import getpass
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from verify_service.config import (
    ConfigError,
    Settings,
    api_key_problem,
    dev_settings,
    hash_api_key,
    load_settings,
)
from verify_service.config.cautions import cautions
from verify_service.config.secrets import secrets_of
from verify_service.config.starter import dev_api_key, write_starter_config
from verify_service.observability.logs import configure_logging, uvicorn_log_config
from verify_service.usecases.console_auth import hash_password, new_one_time_token


def _settings(path: str | None) -> Settings | None:
    """The settings of --config or $VERIFY_CONFIG (None: none given); the process
    environment supplies `env:NAME` values and `VERIFY_*` overrides."""
    path = path or os.environ.get("VERIFY_CONFIG")
    return load_settings(path, os.environ) if path else None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from verify_service.api import slow_clients
    from verify_service.api.app import create_app
    from verify_service.listeners import Supervisor, listeners

    settings = _settings(args.config)
    url = _url(args.host, args.port)
    banner = None  # with a config the logs are JSON lines: the start is one of them
    console_login = None
    if settings is None:
        if args.workers > 1:
            print(
                "error: dev mode keeps verifications in this process's memory; "
                "--workers > 1 needs a config with redis_url",
                file=sys.stderr,
            )
            return 2
        api_key, key_origin = dev_api_key()
        settings, _ = dev_settings(api_key)
        console_login = new_one_time_token()
        banner = _dev_banner(settings, api_key, key_origin, url, console_login)
    elif settings.redis_url is None and args.workers > 1:
        print(
            "error: without redis_url the store lives in one process; "
            "set redis_url to run --workers > 1",
            file=sys.stderr,
        )
        return 2

    configure_logging(level=args.log_level, secrets=secrets_of(settings))
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": uvicorn_log_config(args.log_level),
        "access_log": False,  # our own request line (JSON, with request id) replaces it
        # SIGTERM: stop accepting, let in-flight requests finish for up to this long, then
        # run the lifespan shutdown (provider clients and Redis pools close there).
        "timeout_graceful_shutdown": args.graceful_timeout,
        # X-Forwarded-For is believed only from these addresses (the load balancer).
        "proxy_headers": True,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        # A request (head and body) must arrive within this many seconds (slowloris).
        "http": slow_clients.protocol(args.request_timeout),
    }
    # Bind before anything is printed: a taken port is one plain line, not a banner with a
    # fresh key for a server that never starts (and a curl line that reaches another one).
    # Several workers get a socket each where the kernel balances them (listeners.py).
    try:
        sockets = listeners(args.host, args.port, args.workers)
    except OSError as exc:
        print(f"error: {_bind_error(args.host, args.port, exc)}", file=sys.stderr)
        return 2
    if banner:
        print(banner, file=sys.stderr, flush=True)
    else:
        logging.getLogger("verify_service").info(
            "listening on %s (API reference: %s/docs), %d worker(s)", url, url, args.workers
        )
        for caution in cautions(settings):  # dev mode's banner says so itself
            logging.getLogger("verify_service").warning(caution)
    own_metrics_dir = None
    if args.workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_metrics_dir = _multiprocess_metrics()
    try:
        if args.workers > 1:
            # What each worker's create_app_from_env reads: the workers are fresh processes.
            os.environ["VERIFY_WORKERS"] = str(args.workers)  # each worker's share of the cores
            os.environ["VERIFY_CONFIG"] = os.path.abspath(
                args.config or os.environ["VERIFY_CONFIG"]
            )
            os.environ["VERIFY_LOG_LEVEL"] = args.log_level
            config = uvicorn.Config(
                "verify_service.api.app:create_app_from_env",
                factory=True,
                workers=args.workers,
                **options,
            )
            Supervisor(config, sockets, args.host).run()
            return 0
        app = create_app(settings, console_login=console_login)
        server = uvicorn.Server(uvicorn.Config(app, **options))
        server.run(sockets=sockets)
        return 0 if server.started else 3
    finally:
        for sock in sockets:
            sock.close()
        if own_metrics_dir:  # the workers' counts die with this run
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _url(host: str, port: int) -> str:
    """Where a client on this machine reaches the server (0.0.0.0 binds loopback too)."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _dev_banner(
    settings: Settings, api_key: str, key_origin: str, url: str, console_login: str | None = None
) -> str:
    service = settings.services[0]
    console = ""
    if settings.console is not None and console_login is not None:
        console = (
            f"\n  Operations console (one-time sign-in link): "
            f"{url}{settings.console.path}/login/once?token={console_login}"
        )
    return (
        f"verify-service DEV MODE on {url}: in-memory store (nothing is kept), SMS printed here.\n"
        f"  API key of service 'default': {api_key}\n"
        f"    ({key_origin})\n"
        f"  Twilio Verify v2: AccountSid {service.twilio_account_sid}, "
        f"ServiceSid {service.twilio_service_sid}, AuthToken = the API key\n"
        f"  API reference: {url}/docs\n"
        f"  try: curl -s -X POST {url}/v1/verifications "
        f"-H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' "
        '-d \'{"to": "+41791234567"}\''
        f"{console}"
    )


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another verify-service?); "
            f"choose another with --port, e.g. --port {port + 1} (make serve PORT={port + 1})"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need root); use --port"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on host {host!r}: no such local address; use --host 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _multiprocess_metrics() -> str | None:
    """Workers are separate processes: have them count into files that /metrics adds up
    (prometheus_client's multiprocess mode), in a fresh directory unless one is given.
    Returns the directory made here (removed again at shutdown), None for a given one."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):  # counts of an earlier run must not add up
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))
        return None
    directory = tempfile.mkdtemp(prefix="verify-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def openapi_document() -> str:
    from verify_service.api.app import create_app
    from verify_service.api.ops.docs import as_yaml

    settings, _ = dev_settings()
    return as_yaml(create_app(settings).openapi_schema.to_schema())


def cmd_openapi(_: argparse.Namespace) -> int:
    sys.stdout.write(openapi_document())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args.config)  # loading validates everything, provider tables too
    if settings is None:
        print("error: give --config or set VERIFY_CONFIG", file=sys.stderr)
        return 2
    for service in settings.services:
        if service.legacy_callback_secret:
            print(
                f"note: service {service.name!r}: status_callback_secret is not of the form "
                "whsec_<base64 of 24-64 bytes>; it still signs as before, but replace it "
                "(and the receiver's copy) with a fresh whsec_ secret",
                file=sys.stderr,
            )
    for caution in cautions(settings):
        print(f"warning: {caution}", file=sys.stderr)
    names = ", ".join(s.name for s in settings.services)
    store = "embedded (in-memory)"
    if settings.redis_url:
        from verify_service.store.connect import connect, describe

        connect(settings.redis_url)  # validates the URL's form; connects on first use only
        store = describe(settings.redis_url)
    print(f"config OK: services {names}; providers {', '.join(settings.providers)}; store {store}")
    return 0


def cmd_init_config(args: argparse.Namespace) -> int:
    if not write_starter_config(args.output, force=args.force):
        print(f"error: {args.output} exists; --force overwrites it", file=sys.stderr)
        return 2
    print(
        f"wrote {args.output}: Redis on 127.0.0.1:6379, the console provider, service 'login'.\n"
        "next:\n"
        "  export VERIFY_PEPPER=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\n"
        "  export LOGIN_API_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')\n"
        f"  verify-service check-config --config {args.output}\n"
        f"  verify-service serve --config {args.output}"
    )
    return 0


def cmd_hash_api_key(args: argparse.Namespace) -> int:
    key = args.key if args.key is not None else getpass.getpass("API key: ")
    problem = api_key_problem(key)
    if problem is not None:
        print(f"error: an API key {problem}", file=sys.stderr)
        return 2
    print(hash_api_key(key))
    return 0


def cmd_hash_password(_: argparse.Namespace) -> int:
    """The argon2id hash of a console operator's password, for `[[console.users]]`. Read
    from standard input when it is not a terminal (one line), else prompted for twice."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        print("error: use at least 12 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="verify-service", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service (no config: dev mode)")
    serve.add_argument("--config", help="TOML config file (default: $VERIFY_CONFIG)")
    serve.add_argument(
        "--host",
        default=os.environ.get("VERIFY_HOST", "127.0.0.1"),
        help="address to listen on (default $VERIFY_HOST or 127.0.0.1; 0.0.0.0 = all)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("VERIFY_PORT") or 8080),
        help="TCP port (default $VERIFY_PORT or 8080)",
    )
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=float(os.environ.get("VERIFY_GRACEFUL_TIMEOUT", "20")),
        help="seconds in-flight requests get to finish on SIGTERM (default 20)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        help="proxies whose X-Forwarded-For is trusted (comma-separated, '*' = any)",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=float(os.environ.get("VERIFY_REQUEST_TIMEOUT", "10")),
        help="seconds a client may take to send a request, head and body (default 10)",
    )
    serve.add_argument(
        "--log-level",
        default=os.environ.get("VERIFY_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    serve.set_defaults(fn=cmd_serve)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document (YAML)")
    openapi.set_defaults(fn=cmd_openapi)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", help="TOML config file (default: $VERIFY_CONFIG)")
    check.set_defaults(fn=cmd_check_config)

    init = sub.add_parser("init-config", help="write a starter config file to edit")
    init.add_argument("--output", default="verify-service.toml", help="(default %(default)s)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(fn=cmd_init_config)

    hash_key = sub.add_parser("hash-api-key", help="print the sha256: form of an API key")
    hash_key.add_argument("key", nargs="?", help="the key (prompted for when absent)")
    hash_key.set_defaults(fn=cmd_hash_api_key)

    hash_pw = sub.add_parser(
        "hash-password", help="print the argon2id hash of a console operator's password"
    )
    hash_pw.set_defaults(fn=cmd_hash_password)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a redis_url of an unknown form (store.connect)
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        return 2
