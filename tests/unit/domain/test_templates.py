from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.templates import (
    PLACEHOLDER,
    TemplateError,
    choose_template,
    render,
    validate_template,
)

safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).filter(
    lambda s: "%TOKEN" not in s and "TOKEN%" not in s
)


@given(st.lists(safe_text, min_size=2, max_size=4), st.text("0123456789", min_size=4, max_size=12))
def test_every_placeholder_is_replaced_and_nothing_else(parts: list[str], token: str) -> None:
    template = PLACEHOLDER.join(parts)
    rendered = render(template, token)
    assert rendered == token.join(parts)
    assert PLACEHOLDER not in rendered


@pytest.mark.parametrize(
    "template", ["Your code", "%TOKEN", "x" * 700 + "%TOKEN%", "code %TOKEN%\x00"]
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        validate_template(template)


def test_locale_fallback_exact_then_language_then_default() -> None:
    by_locale = {"de": "DE %TOKEN%", "de-CH": "CH %TOKEN%", "fr": "FR %TOKEN%"}
    assert choose_template("EN %TOKEN%", by_locale, "de-CH") == "CH %TOKEN%"
    assert choose_template("EN %TOKEN%", by_locale, "de_ch") == "CH %TOKEN%"
    assert choose_template("EN %TOKEN%", by_locale, "de-AT") == "DE %TOKEN%"
    assert choose_template("EN %TOKEN%", by_locale, "it") == "EN %TOKEN%"
    assert choose_template("EN %TOKEN%", by_locale, None) == "EN %TOKEN%"
