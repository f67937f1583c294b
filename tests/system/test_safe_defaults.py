"""What a newcomer copies must be safe as it stands: docker-compose.yml, the image's
health check, and installs pinned by hash (Dockerfile, Makefile, CI).

Checked statically, like tests/system/test_docker.py: no Docker engine runs here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [ROOT / "requirements" / "runtime.lock", ROOT / "requirements" / "dev.lock"]


def compose_app() -> dict[str, object]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app: dict[str, object] = compose["services"]["verify-service"]
    return app


def interpolate_defaults(text: str) -> str:
    """${NAME:-default} -> default, as compose does with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_compose_publishes_on_loopback_by_default() -> None:
    ports = compose_app()["ports"]
    assert isinstance(ports, list)
    for port in ports:
        published = interpolate_defaults(str(port))
        assert published.startswith("127.0.0.1:"), f"{port} -> {published}"


def test_compose_requires_a_metrics_token() -> None:
    env = compose_app()["environment"]
    assert isinstance(env, dict)
    assert str(env["VERIFY_METRICS_TOKEN"]).startswith("${VERIFY_METRICS_TOKEN:?")


def test_compose_sends_through_a_real_provider_with_env_credentials() -> None:
    config = tomllib.loads((ROOT / "deploy" / "verify-service.toml").read_text())
    kinds = {table["kind"] for table in config["providers"].values()}
    assert not kinds & {"console", "capture"}, kinds
    for service in config["services"]:
        for name in service["providers"]:
            table = config["providers"][name]
            secrets = [v for k, v in table.items() if k not in ("kind", "sender", "base_url")]
            assert secrets, f"{name} has no credentials"
            assert all(str(v).startswith("env:") for v in secrets), table
    assert "# [providers.console]" in (ROOT / "deploy" / "verify-service.toml").read_text()


def test_the_health_check_follows_the_configured_port() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    check = re.search(r"HEALTHCHECK.*?CMD (\[.*?\])\n", dockerfile, re.S)
    assert check, "HEALTHCHECK"
    assert "VERIFY_PORT" in check.group(1)
    assert "8080/health" not in check.group(1)
    assert re.search(r'CMD \["serve"\]', dockerfile), "serve reads VERIFY_HOST/VERIFY_PORT"
    env = compose_app()["environment"]
    assert isinstance(env, dict)
    # the container listens where compose publishes and where the check asks
    container_port = interpolate_defaults(str(compose_app()["ports"][0])).rsplit(":", 1)[1]  # type: ignore[index]
    assert interpolate_defaults(str(env["VERIFY_PORT"])) == container_port


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    for lock in LOCKS:
        text = lock.read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
        assert len(entries) > 10, lock
        for entry in entries:
            if entry.startswith("#"):
                continue
            assert re.match(r"[A-Za-z0-9_.\-\[\]]+==\S+", entry), entry[:80]
            assert "--hash=sha256:" in entry, entry[:80]


def test_runtime_lock_holds_no_test_or_dev_tools() -> None:
    runtime = (ROOT / "requirements" / "runtime.lock").read_text()
    for tool in ("pytest", "hypothesis", "schemathesis", "mypy", "ruff", "twilio", "hadolint"):
        assert not re.search(rf"^{tool}[-=]", runtime, re.M), tool
    dev = (ROOT / "requirements" / "dev.lock").read_text()
    # dev.lock is compiled with runtime.lock as constraints: `make test` after `make serve`
    # installs on top without changing what serving runs on.
    pin = re.compile(r"^([A-Za-z0-9_.\-]+==\S+)", re.M)
    assert set(pin.findall(runtime)) <= set(pin.findall(dev))


def test_installs_use_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile
    assert "requirements/runtime.lock" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    serve_prereq = re.search(r"^serve: (.*)$", makefile, re.M)
    assert serve_prereq
    assert "RUNTIME_STAMP" in serve_prereq.group(1)
    runtime_rule = makefile.split("$(RUNTIME_STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements/runtime.lock" in runtime_rule
    assert "dev.lock" not in runtime_rule
    assert "[test" not in runtime_rule
    assert "--require-hashes" in makefile
