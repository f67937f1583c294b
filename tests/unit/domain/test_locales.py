"""Template choice by locale: the request's `locale`, else Accept-Language, else default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify_service.domain.locales import MAX_TAGS, parse_accept_language
from verify_service.domain.templates import choose_template
from verify_service.testing import RunningService

TO = "+41791234567"
TEMPLATES = {
    "de": "Ihr Code: %TOKEN%",
    "de-CH": "Grüezi, Ihr Code: %TOKEN%",
    "fr": "Code : %TOKEN%",
}


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        (None, []),
        ("", []),
        ("de", ["de"]),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
        ("en;q=0.5, de", ["de", "en"]),
        ("en;q=0.5, fr;q=0.5, de;q=0.5", ["en", "fr", "de"]),  # ties keep header order
        ("de;q=0, fr", ["fr"]),  # q=0: not acceptable
        ("de;q=1.5, fr;q=abc, it;q=0.3", ["it"]),  # malformed q values drop their tag
        ("de-CH ; Q=0.8 , en", ["en", "de-CH"]),
        ("12, de_AT, <script>", ["de_AT"]),
    ],
)
def test_parse_accept_language(header: str | None, tags: list[str]) -> None:
    assert parse_accept_language(header) == tags


@given(st.text(max_size=300))
def test_any_header_parses_to_a_bounded_list_of_tags(header: str) -> None:
    tags = parse_accept_language(header)
    assert len(tags) <= MAX_TAGS
    assert all(tag and tag.replace("-", "").replace("_", "").isalnum() for tag in tags)


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        (["de-CH-1996"], "Grüezi, Ihr Code: %TOKEN%"),  # exact, then shorter prefixes
        (["it", "de-AT"], "Ihr Code: %TOKEN%"),  # next preference's language
        (["fr-BE", "de-CH"], "Code : %TOKEN%"),  # first preference's language wins
        (["it", "en"], "Code %TOKEN%"),  # nothing matches: the default
        ([], "Code %TOKEN%"),
    ],
)
def test_choose_template_over_preferences(wanted: list[str], chosen: str) -> None:
    assert choose_template("Code %TOKEN%", TEMPLATES, wanted) == chosen


@pytest.fixture
def verify_service_config() -> dict[str, object]:
    return {"service": {"template": "Your code is %TOKEN%", "templates": TEMPLATES}}


def _start_and_read(service: RunningService, **kwargs: str) -> str:
    service.reset()
    with service.client() as client:
        client.start(TO, **kwargs)
    return service.last_message(TO)


def test_locale_of_the_request(verify_service: RunningService) -> None:
    assert _start_and_read(verify_service, locale="de-CH").startswith("Grüezi")
    assert _start_and_read(verify_service, locale="de_AT").startswith("Ihr Code")


def test_accept_language_when_no_locale(verify_service: RunningService) -> None:
    text = _start_and_read(verify_service, accept_language="it, fr-CH;q=0.9, de;q=0.8")
    assert text.startswith("Code : ")


def test_explicit_locale_beats_accept_language(verify_service: RunningService) -> None:
    # A locale that the service lacks gives the default, not the header's choice.
    assert _start_and_read(verify_service, locale="it", accept_language="de").startswith(
        "Your code is"
    )


def test_default_template_without_any_preference(verify_service: RunningService) -> None:
    assert _start_and_read(verify_service).startswith("Your code is")


tags = st.from_regex(r"[a-z]{2,3}(-[A-Z]{2})?", fullmatch=True)
qvalues = st.sampled_from(["0", "0.1", "0.25", "0.5", "0.75", "0.999", "1", "1.0"])


@given(st.lists(st.tuples(tags, qvalues), min_size=1, max_size=MAX_TAGS))
def test_tags_come_by_descending_q_ties_in_header_order(items: list[tuple[str, str]]) -> None:
    header = ", ".join(f"{tag};q={q}" for tag, q in items)
    ranked = sorted((-float(q), i, tag) for i, (tag, q) in enumerate(items) if float(q) > 0)
    assert parse_accept_language(header) == [tag for _, _, tag in ranked]
