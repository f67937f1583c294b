"""A right code approves as people type or paste it (issue 14, point 1), in every dialect:
line breaks, any Unicode space, format characters and dashes are dropped, any script's
digits read as ASCII digits (README "Checking a code"). A code that cannot be one of the
verification's (other symbols, another length) is a wrong code that spends no attempt."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.decorations import Decoration, decorations
from tests.support.dialects import (
    swisscom_check,
    swisscom_start,
    twilio_check,
    twilio_start,
    v1_check,
    v1_start,
)
from tests.support.helpers import Api
from verify_service.domain.tokens import TokenType

# What keyboards, input methods, password managers and copy-paste add (observed inputs).
DECORATED: dict[str, Callable[[str], str]] = {
    "line feed": lambda c: c + "\n",
    "CR LF": lambda c: c + "\r\n",
    "narrow no-break space": lambda c: c[:3] + "\u202f" + c[3:],
    "en dash": lambda c: c[:3] + "\u2013" + c[3:],
    "zero-width space": lambda c: "\u200b" + c,
    "tab and NBSP": lambda c: "\t" + c[:3] + "\u00a0" + c[3:] + " ",
}
ARABIC_INDIC = {str(d): chr(0x0660 + d) for d in range(10)}
FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
numbers = (f"+417900{n:05d}" for n in itertools.count(300))


def arabic(code: str) -> str:
    return "".join(ARABIC_INDIC[c] for c in code)


@pytest.mark.parametrize("decoration", list(DECORATED))
async def test_v1_decorated_right_code_approves(api: Api, decoration: str) -> None:
    to = next(numbers)
    await v1_start(api, to)
    typed = DECORATED[decoration](api.last_code(to))
    result = await v1_check(api, to, typed)
    assert (result["status"], result["valid"]) == ("approved", True)


async def test_v1_code_in_arabic_indic_digits_approves(api: Api) -> None:
    # The number in those digits is read as a number already; the code typed on the same
    # keyboard must be read as a code.
    to = "+41790000311"
    r = await v1_start(api, "+\u0664\u0661\u0667\u0669\u0660\u0660\u0660\u0660\u0663\u0661\u0661")
    assert r.json()["to"] == to
    result = await v1_check(api, to, arabic(api.last_code(to)))
    assert result["valid"] is True


async def test_twilio_code_with_line_break_approves(api: Api) -> None:
    to = next(numbers)
    await twilio_start(api, to)
    r = await twilio_check(api, to, api.last_code(to) + "\n")  # Code=448184%0A
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["valid"]) == ("approved", True)


async def test_twilio_code_in_other_digits_approves(api: Api) -> None:
    to = next(numbers)
    await twilio_start(api, to)
    code = api.last_code(to)
    r = await twilio_check(api, to, "".join(FULL_WIDTH[c] for c in code[:3]) + arabic(code[3:]))
    assert r.json()["status"] == "approved"


@pytest.mark.parametrize("decoration", ["line feed", "en dash", "narrow no-break space"])
async def test_swisscom_percent_encoded_decorations_approve(api: Api, decoration: str) -> None:
    to = next(numbers)
    await swisscom_start(api, to)
    token = DECORATED[decoration](api.last_code(to))
    # GET /messaging/tokenvalidation/+41790000312/145500%0A
    assert await swisscom_check(api, to, quote(token, safe="")) == "SUCCESS"


async def test_swisscom_code_in_arabic_indic_digits_approves(api: Api) -> None:
    to = next(numbers)
    await swisscom_start(api, to)
    assert await swisscom_check(api, to, quote(arabic(api.last_code(to)))) == "SUCCESS"


# --- codes that cannot be the verification's: wrong, but no attempt spent ---------------

NOT_A_CODE: dict[str, Callable[[str], str]] = {
    "too short": lambda c: c[:5],
    "too long": lambda c: c + "7",
    "letters in a numeric code": lambda c: c[:5] + "A",
    "a symbol": lambda c: c[:5] + "#",
}


@pytest.mark.parametrize("kind", list(NOT_A_CODE))
async def test_v1_a_code_of_another_shape_is_wrong_and_free(api: Api, kind: str) -> None:
    to = next(numbers)
    started = (await v1_start(api, to)).json()
    code = api.last_code(to)
    for _ in range(started["max_check_attempts"] + 2):
        result = await v1_check(api, to, NOT_A_CODE[kind](code))
        assert (result["status"], result["valid"]) == ("pending", False)
        assert result["attempts_remaining"] == started["max_check_attempts"]
    assert (await v1_check(api, to, code))["valid"] is True


async def test_twilio_a_code_of_another_shape_is_wrong_and_free(api: Api) -> None:
    to = next(numbers)
    await twilio_start(api, to)
    code = api.last_code(to)
    for _ in range(7):  # more than max_check_attempts (5): none of them counted
        r = await twilio_check(api, to, code + "0")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["valid"]) == ("pending", False)
    assert (await twilio_check(api, to, code)).json()["status"] == "approved"


async def test_swisscom_a_code_of_another_shape_is_failed_and_free(api: Api) -> None:
    to = next(numbers)
    await swisscom_start(api, to, tokenLength=6)
    code = api.last_code(to)
    for token in [code[:4], code + "1", "ABCDEF", "%20"] * 2:
        assert await swisscom_check(api, to, token) == "FAILED"
    assert await swisscom_check(api, to, code) == "SUCCESS"


# --- every generated code, every decoration of the class --------------------------------


@pytest.mark.parametrize("token_type", list(TokenType))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(decoration=decorations, length=st.integers(4, 12))
async def test_v1_every_generated_code_approves_however_decorated(
    api: Api, token_type: TokenType, decoration: Decoration, length: int
) -> None:
    to = next(numbers)
    await v1_start(api, to, token_type=token_type.value, token_length=length)
    typed = decoration.apply(api.last_code(to), token_type)
    result = await v1_check(api, to, typed)
    assert (result["status"], result["valid"]) == ("approved", True), repr(typed)
