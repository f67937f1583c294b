"""Provider tables are validated with the settings: loading is the one place config fails,
with the key's path in the message and never the value (tables hold secrets)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import config
from verify_service.config import ConfigError, settings_from_mapping
from verify_service.providers.registry import KINDS


def _error(providers: dict[str, Any], env: dict[str, str] | None = None, **service: Any) -> str:
    data = config(providers=providers, service={"providers": list(providers), **service})
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data, env or {})
    return str(info.value)


def test_a_missing_option_is_named_by_its_path() -> None:
    message = _error({"websms_main": {"kind": "websms"}})
    assert "providers.websms_main: access_token, or username and password, are required" in (
        message
    )


def test_a_wrong_option_is_named_and_its_value_is_not_repeated() -> None:
    message = _error({"sms": {"kind": "websms", "access_token": "tok-SECRET-1", "timeout": -1}})
    assert "providers.sms.timeout: Input should be greater than 0" in message
    assert "tok-SECRET-1" not in message


def test_an_unknown_kind_names_the_known_ones() -> None:
    message = _error({"p": {"kind": "carrier-pigeon"}})
    assert "providers.p.kind: unknown kind 'carrier-pigeon'" in message
    assert "websms" in message


def test_an_unknown_key_is_reported_as_such() -> None:
    message = _error({"sms": {"kind": "websms", "access_token": "t", "acess_token": "t"}})
    assert "providers.sms.acess_token: Extra inputs are not permitted" in message


def test_an_unknown_key_comes_before_a_missing_environment_variable() -> None:
    # A misspelt key with an env: value: the spelling is the problem, not the variable.
    message = _error({"sms": {"kind": "websms", "acess_token": "env:WEBSMS_TOKEN"}})
    assert "providers.sms.acess_token: Extra inputs are not permitted" in message
    assert "WEBSMS_TOKEN" not in message


def test_unknown_keys_anywhere_come_before_missing_variables() -> None:
    data = config(service={"status_callback_secreet": "env:HOOK_SECRET"})
    with pytest.raises(ConfigError, match=r"services\.0\.status_callback_secreet: Extra"):
        settings_from_mapping(data, {})


def test_a_missing_variable_is_still_named_when_the_keys_are_right() -> None:
    message = _error({"sms": {"kind": "websms", "access_token": "env:WEBSMS_TOKEN"}})
    assert message == "providers.sms.access_token: environment variable WEBSMS_TOKEN is not set"
    ok = config(providers={"sms": {"kind": "websms", "access_token": "env:WEBSMS_TOKEN"}})
    ok["services"][0]["providers"] = ["sms"]
    assert settings_from_mapping(ok, {"WEBSMS_TOKEN": "t"}).providers["sms"]["access_token"] == "t"


def test_several_bad_tables_are_all_reported() -> None:
    message = _error({"a": {"kind": "websms"}, "b": {"kind": "http"}})
    assert "providers.a:" in message
    assert "providers.b.url: Field required" in message


def test_a_delegating_provider_must_be_alone() -> None:
    tables = {
        "swisscom": {"kind": "swisscom_token_validation", "client_id": "x"},
        "capture": {"kind": "capture"},
    }
    message = _error(tables)
    assert re.search("provider 'swisscom' .* must be the service's only provider", message)
    alone = config(providers=tables, service={"providers": ["swisscom"]})
    assert settings_from_mapping(alone, {}).services[0].providers == ["swisscom"]


@given(st.sampled_from(sorted(KINDS)), st.from_regex(r"[a-z]{3,12}_x", fullmatch=True))
def test_every_kind_refuses_a_key_it_does_not_know(kind: str, key: str) -> None:
    message = _error({"p": {"kind": kind, key: "env:UNSET_VARIABLE"}})
    assert f"providers.p.{key}: Extra inputs are not permitted" in message


# --- values that travel in HTTP headers ----------------------------------------------------
# A header carries ASCII only, and never CR/LF or another control character: a value that
# does not fit would only fail when the first code is sent (a crash, or a network error
# on every send). They are refused when the config loads, named by provider and key.

_BODY = {"to": "{to}", "text": "{text}"}
_HEADER_BOUND = {
    "headers.X-Tenant": ({"kind": "http", "url": "https://sms.example/send", "body": _BODY}, None),
    "auth.bearer.token": (
        {"kind": "http", "url": "https://sms.example/send", "body": _BODY},
        {"auth": {"type": "bearer", "token": "env:BAD"}},
    ),
    "token": ({"kind": "smsfactor"}, None),
    "api_key": ({"kind": "swift"}, None),
    "service_key": ({"kind": "webex_connect", "base_url": "https://api.us.webexconnect.io"}, None),
    "access_token": ({"kind": "websms"}, None),
    "client_id": ({"kind": "swisscom_sms"}, None),
}
_UNSENDABLE = ["Zürich-1", "tok\r\nX-Injected: 1", "token-from-a-file\n", " padded", "a\x00b", "🔑"]


def _with_bad(key: str) -> dict[str, Any]:
    table, extra = _HEADER_BOUND[key]
    table = {**table, **(extra or {})}
    if key.startswith("headers."):
        table["headers"] = {key.split(".", 1)[1]: "env:BAD"}
    elif extra is None:
        table[key] = "env:BAD"
    return table


@pytest.mark.parametrize("key", sorted(_HEADER_BOUND))
@pytest.mark.parametrize("bad", _UNSENDABLE, ids=repr)
def test_a_value_unfit_for_an_http_header_is_refused_at_load(key: str, bad: str) -> None:
    message = _error({"sms": _with_bad(key)}, {"BAD": bad})
    assert f"providers.sms.{key}: " in message
    assert "HTTP header" in message
    assert bad.strip() not in message  # never the value: it is usually a credential


@pytest.mark.parametrize("name", ["X Tenant", "X-Tenant:", "Tenant-ü", "", "X-A\r\nX-B"])
def test_a_header_name_that_is_not_a_token_is_refused_at_load(name: str) -> None:
    table = {"kind": "http", "url": "https://sms.example/send", "body": _BODY}
    message = _error({"gen": {**table, "headers": {name: "v"}}})
    assert "providers.gen.headers" in message
    assert "not a valid HTTP header name" in message


@pytest.mark.parametrize("name", ["Content-Length", "content-length", "Transfer-Encoding"])
def test_a_framing_header_is_refused_at_load(name: str) -> None:
    # the client writes these from the body: a configured Content-Length of 3 sent three
    # bytes of the JSON body to the provider and left the rest on the connection
    table = {"kind": "http", "url": "https://sms.example/send", "body": _BODY}
    message = _error({"gen": {**table, "headers": {name: "3"}}})
    assert "providers.gen.headers" in message
    assert f"{name} is an HTTP header the client writes from the body" in message


def test_printable_ascii_header_values_load() -> None:
    table = {"kind": "http", "url": "https://sms.example/send", "body": _BODY}
    headers = {"X-Tenant": "a b\tc !~", "X-Empty": "", "Accept": "application/json"}
    data = config(providers={"gen": {**table, "headers": headers}}, service={"providers": ["gen"]})
    settings = settings_from_mapping(data, {})
    assert settings.providers["gen"]["headers"] == headers
