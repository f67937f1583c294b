"""Keeping the code out of error reasons, whatever a provider echoes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verify_service.providers.http.util import dotted, safe_detail

templates = st.sampled_from(
    [
        "Your code is %TOKEN%",
        "%TOKEN% is your code",
        "Code:%TOKEN%.",
        "G-%TOKEN%",
        "Ihr Code lautet%TOKEN%",  # glued to a word
        "@example.com #%TOKEN%",
    ]
)


codes = st.from_regex(r"[0-9]{4,12}|[A-Za-z0-9]{4,12}", fullmatch=True)


@given(
    template=templates,
    code=codes,
    before=st.text(max_size=150),
    after=st.text(max_size=150),
)
def test_a_detail_holding_the_code_never_passes(
    template: str, code: str, before: str, after: str
) -> None:
    text = template.replace("%TOKEN%", code)
    # Numeric codes glued to letters are caught on their own; letters glued to letters
    # cannot be told from the word, so for those the provider echoes the whole text.
    echoed = code if code.isdigit() else text
    shown = safe_detail(before + echoed + after, text)
    assert code not in shown


@given(st.text(alphabet=st.characters(categories=("L", "Zs")), max_size=300))
def test_a_harmless_detail_is_kept_shortened(detail: str) -> None:
    shown = safe_detail(detail, "Your code is 482913")
    if "Your" not in detail and "code" not in detail:
        assert shown == " ".join(detail.split())[:100]


def test_dotted_paths() -> None:
    data = {"a": {"b": [{"id": 7}, {"id": 8}]}, "c": None}
    assert dotted(data, "a.b.1.id") == 8
    assert dotted(data, "a.b.-1.id") == 8
    assert dotted(data, "a.b.2.id") is None
    assert dotted(data, "a.x") is None
    assert dotted(data, "c.d") is None
    assert dotted("text", "a") is None
