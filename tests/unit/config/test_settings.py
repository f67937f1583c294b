"""Configuration: TOML, env indirection, overrides and the start-up errors a user sees."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, config
from verify_service.config import (
    ConfigError,
    hash_api_key,
    load_settings,
    settings_from_mapping,
)

TOML = """
redis_url = "redis://127.0.0.1:6379/0"
default_region = "CH"
pepper = "env:TEST_PEPPER"

[hashing]
time_cost = 1
memory_cost_kib = 1024

[providers.console]
kind = "console"

[[services]]
name = "login"
api_keys = ["env:LOGIN_KEY", "{hashed}"]
providers = ["console"]
template = "Code %TOKEN%"
templates = {{ de = "Code: %TOKEN%" }}
allowed_countries = ["CH", "li"]
test_numbers = {{ "+41790000000" = "123456" }}
"""


def test_toml_file_with_env_indirection(tmp_path: Path) -> None:
    path = tmp_path / "verify.toml"
    path.write_text(TOML.format(hashed=hash_api_key("other")))
    env = {"TEST_PEPPER": "a-pepper-of-sixteen-bytes", "LOGIN_KEY": "k-from-env-0123456789"}
    settings = load_settings(path, env)
    service = settings.service("login")
    # keys from the environment are hashed at load: no plaintext key is kept
    assert service.api_keys == [hash_api_key("k-from-env-0123456789"), hash_api_key("other")]
    assert settings.pepper is not None
    assert settings.pepper.get_secret_value() == "a-pepper-of-sixteen-bytes"
    assert service.allowed_countries == ["CH", "LI"]
    assert settings.hashing.time_cost == 1


def test_environment_overrides_top_level_keys(tmp_path: Path) -> None:
    path = tmp_path / "verify.toml"
    path.write_text(TOML.format(hashed=hash_api_key("other")))
    env = {
        "TEST_PEPPER": "a-pepper-of-sixteen-bytes",
        "LOGIN_KEY": "k" * 24,
        "VERIFY_REDIS_URL": "redis://elsewhere:6380/1",
        "VERIFY_DEFAULT_REGION": "DE",
    }
    settings = load_settings(path, env)
    assert settings.redis_url == "redis://elsewhere:6380/1"
    assert settings.default_region == "DE"


def _error(data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data, environ=env or {})
    return str(info.value)


def test_missing_secret_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "verify.toml"
    path.write_text(TOML.format(hashed=hash_api_key("other")))
    with pytest.raises(ConfigError, match="TEST_PEPPER is not set"):
        load_settings(path, {"LOGIN_KEY": "k" * 24})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service": {"providers": ["nope"]}}, "provider 'nope'"),
        ({"service": {"template": "no placeholder"}}, "%TOKEN%"),
        ({"service": {"templates": {"fr": "sans code"}}}, "templates.fr"),
        ({"default_region": "XX"}, "unknown region"),
        ({"service": {"api_keys": [API_KEY]}}, "sha256:"),
        ({"service": {"token_length": 13}}, "token_length"),
        ({"service": {"allowed_countries": ["ZZ"]}}, "unknown country"),
        ({"service": {"test_numbers": {"0790000000": "123456"}}}, "+41790000000"),
        ({"service": {"unknown_key": 1}}, "unknown_key"),
        ({"pepper": "short"}, "16 bytes"),
        ({"metrics_token": "x"}, "metrics_token must be at least 16 characters"),
        ({"redis_url": "redis://x", "pepper": None}, "pepper is required"),
    ],
)
def test_bad_configs_fail_with_a_message_naming_the_problem(
    overrides: dict[str, Any], message: str
) -> None:
    data = config(**overrides)
    if data.get("pepper") is None:
        data.pop("pepper")
    assert message in _error(data)


def test_duplicate_service_and_shared_key_are_refused() -> None:
    twin = {"name": "login", "providers": ["capture"]}
    assert "defined twice" in _error(config(extra_services=[twin]))
    sharer = {"name": "other", "providers": ["capture"], "api_keys": [hash_api_key(API_KEY)]}
    assert "shares an API key" in _error(config(extra_services=[sharer]))


def test_not_a_file_and_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, {})


def test_status_callback_secrets_follow_the_signing_rule() -> None:
    url = "https://backend.example/hooks"
    spec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    service = settings_from_mapping(
        config(service={"status_callback_url": url, "status_callback_secret": spec}), {}
    ).services[0]
    assert not service.legacy_callback_secret
    # A plain secret written before the rule still loads (it signs with its bytes, as then).
    service = settings_from_mapping(
        config(service={"status_callback_url": url, "status_callback_secret": "plain-1"}), {}
    ).services[0]
    assert service.legacy_callback_secret
    # One that never produced a signature fails at load now, not at every delivery.
    for bad, problem in [("whsec_abc", "not valid base64"), ("", "empty")]:
        message = _error(
            config(service={"status_callback_url": url, "status_callback_secret": bad})
        )
        assert f"services.0.status_callback_secret: the secret is {problem}" in message


@pytest.mark.parametrize(
    "key",
    ["", " ", "short", "k" * 15, "k" * 24 + "\n", " " + "k" * 24, "two words-0123456789"],
    ids=["empty", "space", "short", "15", "newline", "leading-space", "inner-space"],
)
@pytest.mark.parametrize("table", ["services", "operators"])
def test_an_api_key_from_the_environment_that_anyone_guesses_is_refused(
    key: str, table: str
) -> None:
    # An empty or one-word variable made a key that Twilio's Basic auth accepted as it was
    # (" " as the AuthToken signed in); a secret file's trailing newline a key no client
    # could send. Refused at start-up, naming where, never quoting the key.
    data = config(operators=[{"name": "oncall", "api_keys": ["env:OPS"], "services": ["*"]}])
    env = {"OPS": "ops-key-0123456789abcdef"}
    if table == "services":
        data["services"][0]["api_keys"] = ["env:LOGIN_KEY"]
        env["LOGIN_KEY"] = key
    else:
        env["OPS"] = key
    message = _error(data, env)
    assert f"{table}.0.api_keys.0:" in message
    assert "at least 16 characters" in message
    if key.strip():
        assert key.strip() not in message
    env["LOGIN_KEY" if table == "services" else "OPS"] = "k" * 16
    assert settings_from_mapping(data, env).services[0].name == "login"


LITERAL_SECRETS = """
pepper = "pepper-in-the-file-0123456789"
previous_peppers = ["old-pepper-in-the-file-0123"]
id_key = "id-key-in-the-file-0123456789"
metrics_token = "metrics-token-in-the-file"

[providers.own]
kind = "http"
url = "https://sms.example/send"
body = { to = "{to}", text = "{text}" }
auth = { type = "bearer", token = "gateway-token-in-the-file" }

[providers.websms]
kind = "websms"
access_token = "websms-token-in-the-file"

[[services]]
name = "login"
api_keys = ["env:LOGIN_KEY"]
providers = ["own", "websms"]
status_callback_url = "https://app.example/events"
status_callback_secret = "callback-secret-in-the-file"
"""


def test_a_secret_written_in_the_file_is_refused_naming_its_key(tmp_path: Path) -> None:
    # "Secrets from the environment only": a pepper or provider token pasted into the
    # TOML file (which gets committed and copied) was accepted as it was.
    path = tmp_path / "verify.toml"
    path.write_text(LITERAL_SECRETS)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {"LOGIN_KEY": "k" * 24})
    message = str(info.value)
    keys = [line.split(":", 1)[0] for line in message.splitlines()]
    assert keys == [
        "pepper",
        "previous_peppers",
        "id_key",
        "metrics_token",
        "services.0.status_callback_secret",
        "providers.own.auth.token",
        "providers.websms.access_token",
    ]
    assert "in-the-file" not in message  # no value is repeated
    assert 'write "env:NAME"' in message
    # The same file with env: references loads.
    env = {"LOGIN_KEY": "k" * 24}
    text = LITERAL_SECRETS
    for index, value in enumerate(re.findall(r'"([a-z-]+-in-the-file[a-z0-9-]*)"', text)):
        text = text.replace(f'"{value}"', f'"env:S{index}"')
        env[f"S{index}"] = value if "callback" not in value else "whsec_" + "A" * 32
    path.write_text(text)
    settings = load_settings(path, env)
    assert settings.pepper is not None
    assert settings.pepper.get_secret_value() == "pepper-in-the-file-0123456789"
