"""Phone autofill: the WebOTP last line and the Android SMS Retriever app hash, on exact
text, validated at start-up."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.client import VerifyClient
from verify_service.config import ConfigError, Settings
from verify_service.domain.templates import Autofill, compose
from verify_service.testing import RunningService

APP_HASH = "FA+9qCX9VSu"  # the example hash of Android's SMS Retriever documentation


def test_plain_message_is_the_rendered_template() -> None:
    assert compose("Code %TOKEN%", "123456") == "Code 123456"
    assert compose("Code %TOKEN%\n", "123456", Autofill()) == "Code 123456\n"


def test_webotp_line_is_last() -> None:
    text = compose("Your code is %TOKEN%", "123456", Autofill(webotp_domain="example.com"))
    assert text == "Your code is 123456\n@example.com #123456"


def test_webotp_with_iframe_domain() -> None:
    autofill = Autofill(webotp_domain="shop.example", webotp_iframe_domain="bank.example")
    assert compose("Pay with %TOKEN%", "K7P9Q2", autofill) == (
        "Pay with K7P9Q2\n@shop.example #K7P9Q2 @bank.example"
    )


def test_app_hash_then_webotp() -> None:
    autofill = Autofill(android_app_hash=APP_HASH, webotp_domain="example.com")
    assert compose("Your ExampleApp code is: %TOKEN%  \n", "123ABC78", autofill) == (
        "Your ExampleApp code is: 123ABC78\nFA+9qCX9VSu\n@example.com #123ABC78"
    )


def test_app_hash_alone_is_its_own_last_line() -> None:
    assert compose("Code %TOKEN%", "4711", Autofill(android_app_hash=APP_HASH)) == (
        "Code 4711\nFA+9qCX9VSu"
    )


@given(st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ23456789", min_size=4, max_size=12))
def test_webotp_last_line_carries_the_code(code: str) -> None:
    text = compose("Code: %TOKEN%", code, Autofill(webotp_domain="example.com"))
    assert text.splitlines()[-1] == f"@example.com #{code}"


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"webotp_domain": "https://example.com"}, "is not a domain name"),
        ({"webotp_domain": "example.com/login"}, "is not a domain name"),
        ({"webotp_domain": "-bad-.com"}, "is not a domain name"),
        ({"webotp_domain": "a" * 64 + ".com"}, "is not a domain name"),
        ({"webotp_iframe_domain": "bank.example"}, "needs webotp_domain"),
        ({"android_app_hash": "FA+9qCX9VS"}, "is not an Android app hash"),
        ({"android_app_hash": "FA+9qCX9VSu1"}, "is not an Android app hash"),
        ({"android_app_hash": "FA-9qCX9VSu"}, "is not an Android app hash"),
    ],
)
def test_bad_autofill_settings_fail_at_start_up(
    make_settings: Callable[..., Settings], service: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_settings(service=service)


def test_domain_is_kept_in_lower_case(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(service={"webotp_domain": "Login.Example.COM"})
    assert settings.services[0].webotp_domain == "login.example.com"


@pytest.fixture
def verify_service_config() -> dict[str, object]:
    return {
        "service": {
            "template": "Your ExampleApp code is: %TOKEN%",
            "android_app_hash": APP_HASH,
            "webotp_domain": "example.com",
        }
    }


def test_sent_message_has_both_autofill_lines(verify_service: RunningService) -> None:
    with verify_service.client() as client:
        client.start("+41791234567")
        code = verify_service.last_code("+41791234567")
        assert verify_service.last_message("+41791234567") == (
            f"Your ExampleApp code is: {code}\nFA+9qCX9VSu\n@example.com #{code}"
        )
        assert client.check(code, to="+41791234567").approved


def test_client_env_still_points_at_this_service(verify_service: RunningService) -> None:
    with VerifyClient() as client:
        assert client.base_url == verify_service.url
