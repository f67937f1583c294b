"""The login flow tested the way an application would: only the pytest plugin of
verify-service (the `verify_service` fixture) and the client. No conftest, no network,
no Redis, no SMS."""

from __future__ import annotations

from typing import Any

import pytest
from login_app import Answer, PhoneLogin

PHONE = "+41791234567"


@pytest.fixture
def login(verify_service: Any) -> PhoneLogin:
    return PhoneLogin()  # finds the test service through VERIFY_URL / VERIFY_API_KEY


def test_login_with_the_code_from_the_sms(verify_service: Any, login: PhoneLogin) -> None:
    assert login.request_code("079 123 45 67").ok
    code = verify_service.last_code(PHONE)  # read from the service's test outbox

    assert login.confirm(PHONE, code) == Answer(True, "Welcome!")
    replay = login.confirm(PHONE, code)  # a code works once
    assert replay == Answer(False, "This code was already used. Ask for a new one.")


def test_wrong_code_counts_down(verify_service: Any, login: PhoneLogin) -> None:
    login.request_code(PHONE)
    wrong = "000000" if verify_service.last_code(PHONE) != "000000" else "111111"
    assert login.confirm(PHONE, wrong).message == "Wrong code, 4 tries left."


def test_second_request_is_too_soon(login: PhoneLogin) -> None:
    assert login.request_code(PHONE).ok
    answer = login.request_code(PHONE)
    assert not answer.ok
    assert answer.message.startswith("Please wait ")


def test_no_code_requested(login: PhoneLogin) -> None:
    assert login.confirm(PHONE, "123456").message == "Ask for a code first."
