"""Configured test codes are codes a check can approve (issue 14, point 2): normalised
like a typed code and of the service's token alphabet, else the config does not load and
the error names the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.support.dialects import swisscom_check, swisscom_start, twilio_check, twilio_start
from tests.support.helpers import Api, check_config, open_api
from verify_service.config import ConfigError, Settings
from verify_service.store import Store

NUMBER = "+41790000000"


@pytest.fixture
async def open_with(store: Store, make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    def opened(**service: Any) -> Any:
        return open_api(make_settings(service=service), store, API_KEY)

    return opened


async def v1_round(api: Api, typed: str) -> dict[str, Any]:
    r = await api.post("/v1/verifications", {"to": NUMBER})
    assert r.status_code == 201, r.text
    r = await api.post("/v1/verifications/check", {"to": NUMBER, "code": typed})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("typed", ["abcd", "ABCD", "ab-CD", "\uff41\uff42\uff43\uff44"])
async def test_alphanumeric_test_code_written_in_lower_case_approves(
    open_with: Callable[..., Any], typed: str
) -> None:
    async with open_with(token_type="alphanumeric", test_numbers={NUMBER: "abcd"}) as api:
        result = await v1_round(api, typed)
        assert (result["status"], result["valid"]) == ("approved", True)


@pytest.mark.parametrize("typed", ["1234", "12 34"])
async def test_numeric_test_code_with_a_space_approves_in_every_dialect(
    open_with: Callable[..., Any], typed: str
) -> None:
    async with open_with(test_numbers={NUMBER: "12 34"}) as api:
        assert (await v1_round(api, typed))["valid"] is True
        await twilio_start(api, NUMBER)
        r = await twilio_check(api, NUMBER, typed)
        assert r.json()["status"] == "approved", r.text
        await swisscom_start(api, NUMBER)
        assert await swisscom_check(api, NUMBER, typed.replace(" ", "%20")) == "SUCCESS"


async def test_twilio_and_swisscom_take_the_alphanumeric_test_code_in_any_case(
    open_with: Callable[..., Any],
) -> None:
    async with open_with(token_type="alphanumeric", test_numbers={NUMBER: "abcd"}) as api:
        await twilio_start(api, NUMBER)
        assert (await twilio_check(api, NUMBER, "abcd")).json()["status"] == "approved"
        await swisscom_start(api, NUMBER)
        assert await swisscom_check(api, NUMBER, "ABCD") == "SUCCESS"


async def test_a_test_number_keeps_the_service_type_whatever_the_start_asks(
    open_with: Callable[..., Any],
) -> None:
    async with open_with(token_type="alphanumeric", test_numbers={NUMBER: "TEST"}) as api:
        r = await api.post("/v1/verifications", {"to": NUMBER, "token_type": "numeric"})
        assert r.json()["token_type"] == "alphanumeric"
        r = await api.post("/v1/verifications/check", {"to": NUMBER, "code": "test"})
        assert r.json()["valid"] is True


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        ({"token_type": "alphanumeric", "test_numbers": {NUMBER: "AB10"}}, "no 0, 1, I, L, O"),
        ({"test_numbers": {NUMBER: "12a4"}}, "use only 0123456789"),
        ({"test_numbers": {NUMBER: "1 2 3"}}, "4-12 symbols"),
        ({"token_type": "alphanumeric_mixed", "test_numbers": {NUMBER: "ab#d"}}, "use only"),
    ],
)
def test_a_test_code_no_check_could_approve_is_a_config_error_naming_the_key(
    make_settings: Callable[..., Settings], service: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(service=service)
    assert f"services.0.test_numbers.{NUMBER}: " in str(info.value)
    assert problem in str(info.value)


def test_the_stored_test_code_is_the_normalised_one(
    make_settings: Callable[..., Settings],
) -> None:
    service = make_settings(
        service={"token_type": "alphanumeric", "test_numbers": {NUMBER: "ab\u2013cd\n"}}
    ).services[0]
    assert service.test_numbers == {NUMBER: "ABCD"}


@pytest.mark.system  # runs the CLI in a process of its own
def test_check_config_refuses_the_test_code(tmp_path: Path) -> None:
    config = tmp_path / "verify.toml"
    config.write_text(
        'pepper = "env:P"\n[providers.c]\nkind = "console"\n'
        '[[services]]\nname = "login"\napi_keys = ["env:K"]\nproviders = ["c"]\n'
        'token_type = "alphanumeric"\ntest_numbers = { "+41790000000" = "abc1" }\n'
    )
    out = check_config(config, {"P": "p" * 32, "K": "key-0123456789abcdef"})
    assert out.returncode == 2, out.stderr
    assert "services.0.test_numbers.+41790000000" in out.stderr
    assert "Traceback" not in out.stderr
