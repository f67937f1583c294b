"""The generic `http` kind against a user's own endpoint: body templates, auth, success
rules, message ids and Standard Webhooks signing."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import config
from tests.support.fake_http import FakeServer, Handler, Reply
from tests.unit.providers.kinds.conftest import MESSAGE, TEXT, MakeProvider
from tests.unit.providers.kinds.fakes import (
    SECRET,
    endpoint_api,
    http_config,
    verify_standard_webhook,
)
from verify_service.config import ConfigError, settings_from_mapping
from verify_service.providers.base import ProviderError
from verify_service.providers.kinds.http_generic import encode, render
from verify_service.providers.registry import build_provider


@pytest.fixture
def fake(start_fake: Callable[[Handler], FakeServer]) -> FakeServer:
    return start_fake(endpoint_api)


async def test_json_body_from_the_template_and_the_message_id_from_a_field(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(
        http_config(
            fake.url,
            headers={"X-Api-Key": "k-1"},
            body={
                "to": "{to}",
                "msisdn": "{to_digits}",
                "text": "{text}",
                "ref": "{reference}",
                "nested": {"list": ["{to}", 7, True]},
                "fixed": "sms",
            },
        )
    )
    result = await provider.send(MESSAGE)

    assert result.message_id == "m-42"
    req = fake.last
    assert (req.method, req.path) == ("POST", "/sms")
    assert req.headers["x-api-key"] == "k-1"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "to": "+41791234567",
        "msisdn": "41791234567",
        "text": TEXT,
        "ref": "ver_abc.1",
        "nested": {"list": ["+41791234567", 7, True]},
        "fixed": "sms",
    }


TRICKY = 'Code "482913" & {to} \\ ü 🔐 \n</x>'


async def test_tricky_text_stays_inside_its_json_value(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(http_config(fake.url, body={"t": "SMS: {text}", "n": "{to}"}))
    await provider.send(dataclasses.replace(MESSAGE, text=TRICKY))
    assert fake.last.json() == {"t": f"SMS: {TRICKY}", "n": "+41791234567"}


async def test_form_body_with_basic_auth(fake: FakeServer, make_provider: MakeProvider) -> None:
    auth = {"type": "basic", "username": "acct", "password": "s3cret"}
    config = http_config(fake.url, body_format="form", auth=auth)
    await make_provider({**config, "body": {"To": "{to}", "Body": "{text}", "Flag": True}}).send(
        dataclasses.replace(MESSAGE, text=TRICKY)
    )
    req = fake.last
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"acct:s3cret").decode()
    assert req.form() == {"To": "+41791234567", "Body": TRICKY, "Flag": "true"}


async def test_configured_headers_replace_ours_whatever_their_case(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    headers = {"content-type": "application/vnd.sms+json", "authorization": "Token old"}
    config = http_config(fake.url, headers=headers, auth={"type": "bearer", "token": "new"})
    await make_provider(config).send(MESSAGE)
    assert fake.last.headers["content-type"] == "application/vnd.sms+json"
    assert fake.last.headers["authorization"] == "Bearer new"
    names = fake.last.header_names
    assert names.count("content-type") == names.count("authorization") == 1
    assert fake.last.json()["to"] == "+41791234567"


async def test_get_with_query_and_bearer(fake: FakeServer, make_provider: MakeProvider) -> None:
    config = http_config(fake.url, method="get", auth={"type": "bearer", "token": "tok"})
    await make_provider(config).send(MESSAGE)
    req = fake.last
    assert req.method == "GET"
    assert req.headers["authorization"] == "Bearer tok"
    assert req.query == {"to": "+41791234567", "text": TEXT, "ref": "ver_abc.1"}
    assert req.body == b""


async def test_message_id_from_a_header(fake: FakeServer, make_provider: MakeProvider) -> None:
    config = http_config(fake.url, message_id_header="X-Message-Id")
    del config["message_id_field"]
    fake.script(Reply(201, headers={"X-Message-Id": "hdr-1"}))
    assert (await make_provider(config).send(MESSAGE)).message_id == "hdr-1"


async def test_success_needs_the_status_and_the_field(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(
        http_config(fake.url, success_field="data.state", success_value="queued")
    )
    assert (await provider.send(MESSAGE)).message_id == "m-42"

    fake.script(Reply(200, json={"data": {"state": "rejected", "id": "m-43"}}))
    with pytest.raises(ProviderError) as exc:
        await provider.send(MESSAGE)
    assert exc.value.retryable is False
    assert "data.state is rejected" in exc.value.reason


async def test_a_numeric_success_value_matches_either_type(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(http_config(fake.url, success_field="ok", success_value=1))
    fake.script(Reply(200, json={"ok": "1"}), Reply(200, json={"ok": True}))
    await provider.send(MESSAGE)
    with pytest.raises(ProviderError):
        await provider.send(MESSAGE)  # true is not 1


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (500, True), (503, True)]
)
async def test_other_statuses_are_classified(
    fake: FakeServer, make_provider: MakeProvider, status: int, retryable: bool
) -> None:
    fake.script(Reply(status, json={"error": TEXT}))
    with pytest.raises(ProviderError) as exc:
        await make_provider(http_config(fake.url)).send(MESSAGE)
    assert exc.value.retryable is retryable
    assert "482913" not in exc.value.reason


async def test_configured_statuses_mean_an_invalid_number(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    fake.script(Reply(422))
    provider = make_provider(http_config(fake.url, recipient_invalid_status=[422]))
    with pytest.raises(ProviderError) as exc:
        await provider.send(MESSAGE)
    assert exc.value.recipient_invalid is True


async def test_a_field_that_echoes_the_text_keeps_the_code_out(
    fake: FakeServer, make_provider: MakeProvider
) -> None:
    fake.script(Reply(200, json={"state": f"bad text {TEXT}"}))
    provider = make_provider(http_config(fake.url, success_field="state", success_value="ok"))
    with pytest.raises(ProviderError) as exc:
        await provider.send(MESSAGE)
    assert "482913" not in exc.value.reason


# -- signing --------------------------------------------------------------------------
@pytest.mark.parametrize("body_format", ["json", "form"])
async def test_signed_requests_verify_on_the_receiving_end(
    fake: FakeServer, make_provider: MakeProvider, body_format: str
) -> None:
    provider = make_provider(http_config(fake.url, body_format=body_format, signing_secret=SECRET))
    await provider.send(dataclasses.replace(MESSAGE, text=TRICKY))

    req = fake.last
    assert verify_standard_webhook(req, SECRET)
    assert req.headers["webhook-id"] == "msg_ver_abc_1"  # no "." in the signed id
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    assert not verify_standard_webhook(req, other)
    tampered = dataclasses.replace(req, body=req.body.replace(b"482913", b"000000"))
    assert not verify_standard_webhook(tampered, SECRET)


# -- configuration --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": {"to": "{to}", "text": "{txt}"}}, "unknown placeholders"),
        ({"body": {"to": "{to}"}}, "must contain {text}"),
        ({"body": {"text": "{text}"}}, "{to} or {to_digits}"),
        ({"body_format": "form", "body": {"m": {"to": "{to}", "t": "{text}"}}}, "plain values"),
        ({"success_field": "ok"}, "go together"),
        ({"base_url": "http://x"}, "url, not base_url"),
        ({"signing_secret": "abc"}, "whsec_"),
        ({"signing_secret": "whsec_" + base64.b64encode(b"short").decode()}, "24-64 bytes"),
        ({"signing_secret": "whsec_***"}, "base64"),
        ({"auth": {"type": "digest"}}, "auth"),
        ({"method": "GET", "signing_secret": SECRET}, "needs a request body"),
        ({"success_status": [2000]}, "100-599"),
        ({"url": "ftp://x"}, "url"),
        ({"methd": "POST"}, "providers.h.methd: Extra inputs"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="(?s)" + message.replace("{", r"\{")):
        build_provider("h", {**http_config("http://127.0.0.1:1"), **change})


def test_a_bad_secret_is_never_echoed() -> None:
    secret = "whsec_" + base64.b64encode(b"too-short-secret").decode()
    with pytest.raises(ValueError) as exc:
        build_provider("h", {**http_config("http://127.0.0.1:1"), "signing_secret": secret})
    assert secret not in str(exc.value)
    assert secret[6:] not in str(exc.value)


# -- templating, for any text ---------------------------------------------------------
@given(text=st.text(), to=st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_any_text_round_trips_through_json_and_form_bodies(text: str, to: str) -> None:
    template = {"to": "{to}", "text": "Code: {text}", "n": 3}
    values = {"to": to, "to_digits": to[1:], "text": text, "reference": "r"}
    body = render(template, values)
    assert body == {"to": to, "text": f"Code: {text}", "n": 3}

    data, _ = encode(body, "json")
    assert json.loads(data) == body
    data, _ = encode(body, "form")
    assert dict(parse_qsl(data.decode(), keep_blank_values=True)) == {
        "to": to,
        "text": f"Code: {text}",
        "n": "3",
    }


async def test_cookies_a_provider_sets_are_not_sent_back(
    start_fake: Callable[[Handler], FakeServer], make_provider: MakeProvider
) -> None:
    # an HTTP provider authenticates each request; a session cookie from one send must not
    # ride along on the next message
    def sets_cookies(request: Any) -> Reply:
        return Reply(
            200, json={"data": {"id": "m-1"}}, headers={"Set-Cookie": "session=abc123; Path=/"}
        )

    fake = start_fake(sets_cookies)
    provider = make_provider(http_config(fake.url))
    for _ in range(2):
        assert (await provider.send(MESSAGE)).message_id == "m-1"
        assert "cookie" not in fake.last.headers


# -- configured headers, for any name and value ----------------------------------------
@pytest.fixture(scope="module")
def header_echo() -> Iterator[FakeServer]:
    server = FakeServer(endpoint_api).start()
    yield server
    server.stop()


def _send_once(table: dict[str, Any]) -> None:
    async def send() -> None:
        provider = build_provider("gen", table)
        try:
            await provider.send(MESSAGE)
        finally:
            await provider.aclose()

    asyncio.run(send())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["X-Tenant", "X Tenant", "Tenant-ü", "Content-Length"])
    | st.text(max_size=8),
    value=st.text(max_size=12),
)
def test_any_configured_header_is_refused_at_load_or_sent_as_written(
    header_echo: FakeServer, name: str, value: str
) -> None:
    """Whatever a config says in `headers`: check-config refuses it naming the provider and
    the header, or every send carries it exactly; never a crash or a network error at send
    time (the first code is the wrong moment to learn that a header cannot be sent)."""
    table = http_config(header_echo.url, headers={name: "env:HEADER"})
    data = config(providers={"gen": table}, service={"providers": ["gen"]})
    try:
        loaded = settings_from_mapping(data, {"HEADER": value})
    except ConfigError as exc:
        refusal = str(exc)
    else:
        _send_once(loaded.providers["gen"])
        assert header_echo.last.headers[name] == value
        return
    assert "providers.gen.headers" in refusal
    assert "HTTP header" in refusal
