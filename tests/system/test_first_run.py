"""A newcomer's first hour, as they run it: the installed command line in subprocesses.

Ports (bind first, a taken port is one plain line), a dev key that survives restarts,
`init-config`, configuration errors that point at the real mistake, an unreachable Redis
named with its cause, and no temporary folders left behind by `--workers`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisServer, free_port
from verify_service.config.starter import STARTER_CONFIG, dev_api_key

CLI = [sys.executable, "-m", "verify_service"]
DEV_KEY = "dev-first-run-key-0123456789"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERIFY_", "PROMETHEUS_"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), TMPDIR=str(tmp_path), **extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", *args], stdout=out, stderr=subprocess.STDOUT, text=True, env=env
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def wait_until_live(base: str, proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"not live in 30 s:\n{log.read_text()}")


# --- ports ---------------------------------------------------------------------------------


def test_a_taken_port_is_one_plain_line_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as other:  # someone else's server on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        out = run(["serve", "--port", str(port)], env_for(tmp_path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port" in lines[0]
    assert "API key" not in out.stderr + out.stdout
    assert "curl" not in out.stderr + out.stdout


@contextmanager
def dev_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`serve` in dev mode on a free port (VERIFY_PORT) with DEV_KEY: (its URL, its banner),
    once the banner is printed."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = env_for(tmp_path, VERIFY_PORT=str(port), VERIFY_DEV_API_KEY=DEV_KEY)
    with serving([], env, log):
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while "API key" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the banner comes once the port listens: a request right after it is answered
        assert httpx.get(f"{base}/health/live", timeout=30).status_code == 200
        yield base, log.read_text()


def test_dev_mode_on_the_given_port_with_a_stable_key(tmp_path: Path) -> None:
    """`--port` (or VERIFY_PORT) is where it listens and what the banner's curl line uses;
    the key from VERIFY_DEV_API_KEY is the one that works."""
    with dev_server(tmp_path) as (base, banner):
        assert f"API key of service 'default': {DEV_KEY}" in banner
        assert f"curl -s -X POST {base}/v1/verifications" in banner
        r = httpx.post(
            f"{base}/v1/verifications",
            json={"to": "+41791234567"},
            headers={"Authorization": f"Bearer {DEV_KEY}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text


def test_the_dev_key_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFY_DEV_API_KEY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    first, origin = dev_api_key()
    assert first.startswith("dev_")
    assert str(tmp_path / "verify-service" / "dev-api-key") in origin
    assert (tmp_path / "verify-service" / "dev-api-key").stat().st_mode & 0o077 == 0
    assert dev_api_key()[0] == first
    monkeypatch.setenv("VERIFY_DEV_API_KEY", DEV_KEY)
    assert dev_api_key() == (DEV_KEY, "from $VERIFY_DEV_API_KEY")


def test_an_unwritable_state_dir_gives_a_fresh_key_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERIFY_DEV_API_KEY", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))  # a file where a folder must go
    key, origin = dev_api_key()
    assert key.startswith("dev_")
    assert "new on each start" in origin


# --- init-config and configuration errors ---------------------------------------------------


def test_init_config_writes_a_file_that_passes_check_config(tmp_path: Path) -> None:
    path = tmp_path / "verify-service.toml"
    env = env_for(tmp_path)
    out = run(["init-config", "--output", str(path)], env)
    assert out.returncode == 0, out.stderr
    assert path.read_text() == STARTER_CONFIG
    assert f"verify-service serve --config {path}" in out.stdout
    check = run(["check-config", "--config", str(path)], env)
    assert check.returncode == 2
    assert "environment variable" in check.stderr  # what the printed next steps set
    env.update(VERIFY_PEPPER="p" * 32, LOGIN_API_KEY="k" * 24)
    check = run(["check-config", "--config", str(path)], env)
    assert check.returncode == 0, check.stderr
    assert "store redis://127.0.0.1:6379/0" in check.stdout
    path.write_text("# mine\n")
    again = run(["init-config", "--output", str(path)], env)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert path.read_text() == "# mine\n"


def test_a_misspelt_provider_key_is_reported_before_the_missing_variable(
    tmp_path: Path,
) -> None:
    config = tmp_path / "typo.toml"
    config.write_text(
        '[providers.websms]\nkind = "websms"\nacess_token = "env:WEBSMS_TOKEN"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["websms"]\n'
    )
    for extra in ({}, {"WEBSMS_TOKEN": "t" * 20}):
        out = run(["check-config", "--config", str(config)], env_for(tmp_path, K="k" * 24, **extra))
        assert out.returncode == 2
        lines = out.stderr.splitlines()
        first = next(i for i, line in enumerate(lines) if "acess_token" in line)
        assert lines[first].endswith(
            "providers.websms.acess_token: Extra inputs are not permitted"
        ), out.stderr
        assert not any("environment variable" in line for line in lines[:first]), out.stderr


def test_config_paths_use_one_notation(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[providers.c]\nkind = "console"\n'
        '[[services]]\nname = "login"\napi_keys = ["plaintext"]\nproviders = ["c"]\n'
        '[[services]]\nname = "other"\napi_keys = ["env:MISSING_KEY"]\nproviders = ["c"]\n'
    )
    out = run(["check-config", "--config", str(config)], env_for(tmp_path))
    assert "services.1.api_keys.0: environment variable MISSING_KEY is not set" in out.stderr
    out = run(["check-config", "--config", str(config)], env_for(tmp_path, MISSING_KEY="k" * 24))
    assert "services.0.api_keys: each API key must be" in out.stderr
    assert "[" not in out.stderr.split(":")[1], out.stderr  # dotted, never services[0]


# --- an unreachable Redis ------------------------------------------------------------------


def redis_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "redis.toml"
    config.write_text(
        f'redis_url = "{url}"\npepper = "env:P"\n[providers.c]\nkind = "console"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["c"]\n'
    )
    return config


def readiness_of_a_server_on(tmp_path: Path, url: str) -> tuple[httpx.Response, str]:
    """Serve a config with `url` as redis_url: (GET /health/ready, the server's log)."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = env_for(tmp_path, P="p" * 32, K="k" * 24)
    args = ["--config", str(redis_config(tmp_path, url)), "--port", str(port)]
    with serving(args, env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until_live(base, proc, log)
        ready = httpx.get(f"{base}/health/ready", timeout=30)
    return ready, log.read_text()


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("redis://127.0.0.1:{closed}/0", "connection refused"),
        ("redis://no-such-host.invalid:6379/0", "DNS: the host name does not resolve"),
    ],
    ids=["refused", "dns"],
)
def test_unreachable_redis_is_named_in_the_log_not_in_readiness(
    tmp_path: Path, url: str, cause: str
) -> None:
    url = url.format(closed=free_port())
    ready, log = readiness_of_a_server_on(tmp_path, url)
    assert ready.status_code == 503
    assert ready.json()["code"] == "store_unavailable"
    assert "Redis at" not in ready.text  # readiness is public: no internal address in it
    assert url.split("//")[1].split("/")[0] not in ready.text
    # the log says where and why: at start-up, and again when readiness is asked
    assert log.count(f"Redis at {url} is not reachable: {cause}") == 2, log


def test_the_password_never_shows(tmp_path: Path) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    ready, log = readiness_of_a_server_on(tmp_path, url)
    assert "redis://:***@127.0.0.1" in log
    assert "127.0.0.1" not in ready.text
    assert "hunter2" not in ready.text + log


# --- workers leave nothing behind -----------------------------------------------------------


def test_workers_remove_their_metrics_folder_on_shutdown(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = env_for(tmp_path, P="p" * 32, K="k" * 24)
    config = redis_config(tmp_path, redis_server.url)
    with serving(["--config", str(config), "--port", str(port), "--workers", "2"], env, log) as p:
        wait_until_live(f"http://127.0.0.1:{port}", p, log)
        assert list(tmp_path.glob("verify-metrics-*")), "multiprocess metrics in TMPDIR"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0, log.read_text()
    assert not list(tmp_path.glob("verify-metrics-*")), log.read_text()


# --- a number without its country code -----------------------------------------------------


@pytest.mark.parametrize("to", ["4155552671", "415 555 2671", "(415) 555-2671"])
def test_a_foreign_number_without_country_code_says_how_it_was_read(to: str) -> None:
    from litestar.testing import TestClient

    from verify_service.api.app import create_app
    from verify_service.config import dev_settings

    settings, key = dev_settings()
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/v1/verifications", json={"to": to}, headers={"Authorization": f"Bearer {key}"}
        )
    assert r.status_code == 400
    problem = r.json()
    assert problem["code"] == "invalid_phone_number"
    assert "read as a national number of CH (default_region)" in problem["detail"]
    assert "+<country code>" in problem["detail"]


def test_every_timestamp_has_one_form() -> None:
    """RFC 3339, UTC, milliseconds: created_at, expires_at and each send attempt's `at`."""
    from litestar.testing import TestClient

    from verify_service.api.app import create_app
    from verify_service.config import dev_settings

    settings, key = dev_settings()
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/v1/verifications",
            json={"to": "+41791234567"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 201, r.text
    body = r.json()
    stamps = [body["created_at"], body["expires_at"], *(a["at"] for a in body["send_attempts"])]
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamps
