"""The command line, as a user runs it: subprocesses of the installed entry point."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import free_port

CLI = [sys.executable, "-m", "verify_service"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_hash_api_key() -> None:
    out = run("hash-api-key", "secret-key-0123456789")
    assert out.returncode == 0
    assert out.stdout.strip() == "sha256:" + hashlib.sha256(b"secret-key-0123456789").hexdigest()


def test_hash_api_key_refuses_a_key_anyone_guesses() -> None:
    out = run("hash-api-key", "secret")
    assert out.returncode == 2
    assert "at least 16 characters" in out.stderr
    assert "secret" not in out.stderr.replace("secrets", "")
    assert out.stdout == ""


KEY = "key-0123456789abcdef"


def test_check_config_ok_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        'pepper = "env:P"\n[providers.c]\nkind = "console"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["c"]\n'
    )
    out = run("check-config", "--config", str(good), env={"P": "p" * 32, "K": KEY})
    assert out.returncode == 0, out.stderr
    assert "config OK" in out.stdout
    # valid, but the console provider prints codes: said, not kept silent
    assert "warning: provider 'c' is of kind 'console'" in out.stderr
    out = run("check-config", "--config", str(good), env={"K": KEY})
    assert out.returncode == 2
    assert "environment variable P is not set" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('kind = "console"', 'kind = "carrier-pigeon"'))
    out = run("check-config", "--config", str(bad), env={"P": "p" * 32, "K": KEY})
    assert out.returncode == 2
    assert "unknown kind 'carrier-pigeon'" in out.stderr
    assert "Traceback" not in out.stderr


def test_check_config_reports_provider_tables_and_old_callback_secrets(tmp_path: Path) -> None:
    path = tmp_path / "verify.toml"
    path.write_text(
        '[providers.sms]\nkind = "websms"\nacess_token = "env:WEBSMS_TOKEN"\n'
        '[[services]]\nname = "login"\nproviders = ["sms"]\n'
    )
    out = run("check-config", "--config", str(path), env={"WEBSMS_TOKEN": ""})
    assert out.returncode == 2
    assert "providers.sms.acess_token: Extra inputs are not permitted" in out.stderr
    path.write_text(
        '[providers.c]\nkind = "console"\n[[services]]\nname = "login"\nproviders = ["c"]\n'
        'status_callback_url = "https://backend.example/hooks"\n'
        'status_callback_secret = "env:HOOK_SECRET"\n'
    )
    out = run("check-config", "--config", str(path), env={"HOOK_SECRET": "an-old-plain-secret"})
    assert out.returncode == 0, out.stderr
    assert "status_callback_secret is not of the form whsec_" in out.stderr
    assert "an-old-plain-secret" not in out.stderr


def test_dev_mode_refuses_several_workers() -> None:
    out = run("serve", "--workers", "2", env={"VERIFY_CONFIG": ""})
    assert out.returncode == 2
    assert "--workers > 1 needs a config with redis_url" in out.stderr


def test_dev_mode_walkthrough_of_the_readme() -> None:
    """`verify-service serve` with no config: key printed, SMS on the console, the flow works."""
    port = free_port()
    env = {**os.environ, "VERIFY_CONFIG": "", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        key = None
        deadline = time.monotonic() + 30
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            match = re.search(r"API key of service 'default': (\S+)", line)
            key = match.group(1) if match else None
        assert key, "".join(lines)
        assert any("nothing is kept" in line for line in lines)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            for _ in range(100):
                try:
                    client.get("/health/live")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            r = client.post("/v1/verifications", json={"to": "079 123 45 67"})
            assert r.status_code == 201, r.text
            sms = ""
            while "SMS to +41791234567" not in sms:
                sms = proc.stdout.readline()
            code = sms.rsplit(" ", 1)[-1].strip()
            bad = "".join("1" if c != "1" else "2" for c in code)
            r = client.post("/v1/verifications/check", json={"to": "+41791234567", "code": bad})
            assert r.json()["valid"] is False
            assert r.json()["attempts_remaining"] == 4
            r = client.post("/v1/verifications/check", json={"to": "+41791234567", "code": code})
            assert json.loads(r.text)["status"] == "approved"
            r = client.post("/v1/verifications/check", json={"to": "+41791234567", "code": code})
            assert r.json()["valid"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("command", [["openapi"]])
def test_openapi_command_prints_yaml(command: list[str]) -> None:
    out = run(*command)
    assert out.returncode == 0
    assert out.stdout.startswith("info:")
