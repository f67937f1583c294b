"""Issue 15.5: templates refuse invisible and direction-changing characters (controls, DEL,
C1 such as U+0085, bidi overrides and isolates, zero-width space, line and paragraph
separators) in every place a template comes from: a request of each dialect that takes one,
and the config. What real text needs (ZWJ in emoji, ZWNJ in Persian, the direction marks,
flag tags) is accepted and sent unchanged."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import API_KEY, config
from tests.support.helpers import open_api
from verify_service.config import ConfigError, Settings, settings_from_mapping
from verify_service.domain.templates import TemplateError, refused_character, validate_template
from verify_service.store import Store

# The characters, and one of each kind of the rule.
REFUSED = [
    "\x7f",  # DEL
    "\x85",  # NEL (C1)
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2069",  # POP DIRECTIONAL ISOLATE
    "\u200b",  # ZERO WIDTH SPACE
    "\u2060",  # WORD JOINER
    "\ufeff",  # BOM
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    "\x00",
    "\x1b",
    "\t",
]
NEEDED = [
    "Code %TOKEN% 👩\u200d💻",  # ZWJ emoji sequence
    "کد شما: %TOKEN% می\u200cخواهم",  # noqa: RUF001 - ZWNJ in Persian
    "הקוד שלך: \u200e%TOKEN%\u200e",  # LRM around the digits in Hebrew
    "رمزك: \u061c%TOKEN%",  # ALM
    "Code %TOKEN% 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    "Line one\nLine two %TOKEN%\r\n",
]


@pytest.mark.parametrize("char", REFUSED)
async def test_requests_of_each_dialect_refuse_them(
    store: Store, make_settings: Callable[..., Settings], char: str
) -> None:
    template = f"Your code{char} is %TOKEN%"
    async with open_api(make_settings(), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": "+41791234567", "template": template})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_template"
        assert f"U+{ord(char):04X}" in r.json()["detail"]
        r = await api.client.post(
            "/messaging/tokenvalidation",
            json={"to": "+41791234567", "text": template, "tokenType": "SHORT_NUMERIC"},
            headers={"client_id": API_KEY, "SCS-Version": "2"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "INVALID_REQUEST"
        assert api.captured().messages == []


@pytest.mark.parametrize("char", REFUSED)
def test_the_config_refuses_them(char: str) -> None:
    template = f"Your code{char} is %TOKEN%"
    with pytest.raises(ConfigError, match=f"U\\+{ord(char):04X}"):
        settings_from_mapping(config(service={"template": template}), environ={})
    with pytest.raises(ConfigError, match=f"U\\+{ord(char):04X}"):
        settings_from_mapping(config(service={"templates": {"fr": template}}), environ={})


@pytest.mark.parametrize("template", NEEDED)
async def test_what_languages_and_emoji_need_is_sent_unchanged(
    store: Store, make_settings: Callable[..., Settings], template: str
) -> None:
    settings_from_mapping(config(service={"template": template}), environ={})
    async with open_api(make_settings(), store, API_KEY) as api:
        r = await api.post("/v1/verifications", {"to": "+41791234567", "template": template})
        assert r.status_code == 201, r.text
        sent = api.captured().messages[-1].text
    assert re.fullmatch(re.escape(template).replace("%TOKEN%", r"\d{6}"), sent), sent


@given(st.characters())
def test_the_rule_is_by_unicode_category(char: str) -> None:
    category = unicodedata.category(char)
    allowed = (
        char in "\n\r\u200c\u200d\u200e\u200f\u061c"
        or 0xE0020 <= ord(char) <= 0xE007F
        or category not in {"Cc", "Cf", "Zl", "Zp", "Cs"}
    )
    assert (refused_character(f"a{char}b") is None) == allowed
    if not allowed:
        with pytest.raises(TemplateError):
            validate_template(f"%TOKEN%{char}")
