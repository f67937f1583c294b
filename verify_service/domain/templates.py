"""Message templates: `%TOKEN%` placeholders, per-locale choice with fallback, and the
phone-autofill lines (Android SMS Retriever app hash, WebOTP origin-bound code)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PLACEHOLDER = "%TOKEN%"
MAX_TEMPLATE_LENGTH = 640  # characters; four concatenated SMS of UCS-2, ample for a code

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# Google's app hash: base64 of a SHA-256 digest, cut to 11 characters.
_APP_HASH = re.compile(r"^[A-Za-z0-9+/]{11}$")


class TemplateError(ValueError):
    pass


# Characters a template may not hold (README "Templates", docs/security.md): whatever
# changes how the text reads without being seen. By Unicode category: controls (Cc: C0,
# DEL, C1 such as U+0085) except line feed and carriage return; format characters (Cf:
# bidi overrides and isolates U+202A-202E and U+2066-2069, zero-width space U+200B, word
# joiner, BOM, ...) except those real text needs; line and paragraph separators (Zl, Zp:
# U+2028, U+2029); lone surrogates (Cs). A bidi override makes "code 1234 from Bank"
# display as something else, and invisibles hide words from the reader and from filters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_LINE_BREAKS = frozenset("\n\r")
# Format characters that languages and emoji need: ZWNJ (Persian, Indic scripts), ZWJ (emoji
# sequences, Indic conjuncts), the direction marks LRM, RLM and ALM (they order neutral
# characters such as digits inside Arabic or Hebrew text; they override nothing), and the
# tag characters of subdivision flag emoji (U+E0020-E007F).
_NEEDED_FORMAT = frozenset("\u200c\u200d\u200e\u200f\u061c") | frozenset(
    chr(c) for c in range(0xE0020, 0xE0080)
)


def refused_character(text: str) -> str | None:
    """The first character of `text` that templates refuse, as `U+XXXX (NAME)`; None."""
    for char in text:
        if char in _LINE_BREAKS or char in _NEEDED_FORMAT:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            name = unicodedata.name(char, "unnamed")
            return f"U+{ord(char):04X} ({name})"
    return None


def validate_template(template: str) -> str:
    """The template, if it may be sent: it holds %TOKEN%, fits MAX_TEMPLATE_LENGTH, and
    has no invisible or direction-changing character (`refused_character`). Raises
    TemplateError saying which rule and which character."""
    if PLACEHOLDER not in template:
        raise TemplateError(f"the template must contain {PLACEHOLDER}")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"the template is longer than {MAX_TEMPLATE_LENGTH} characters")
    refused = refused_character(template)
    if refused is not None:
        raise TemplateError(
            f"the template contains {refused}: control, invisible and direction-changing "
            "characters are not allowed"
        )
    return template


def render(template: str, token: str) -> str:
    """Every occurrence is replaced: `%TOKEN%` may appear more than once (e.g. WebOTP line)."""
    return template.replace(PLACEHOLDER, token)


def _lookup_chain(tag: str) -> list[str]:
    """RFC 4647 lookup: `de-CH-1996` -> `de-ch-1996`, `de-ch`, `de`."""
    parts = tag.strip().replace("_", "-").lower().split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[n - 1]]


def choose_template(
    default: str, by_locale: Mapping[str, str], locale: str | Sequence[str] | None
) -> str:
    """For each wanted locale in order (one tag, or an Accept-Language list): the exact tag
    (`de-CH`), then ever shorter prefixes down to the language (`de`); then the next wanted
    locale; finally the service's default template."""
    if not locale:
        return default
    wanted = [locale] if isinstance(locale, str) else list(locale)
    lowered = {key.replace("_", "-").lower(): value for key, value in by_locale.items()}
    for tag in wanted:
        for candidate in _lookup_chain(tag):
            if candidate in lowered:
                return lowered[candidate]
    return default


# --- phone autofill ------------------------------------------------------------------------


def validate_domain(domain: str) -> str:
    """A host name as WebOTP puts it after `@`: ASCII (punycode for IDN), no scheme/port/path."""
    if len(domain) > 253 or not _DOMAIN.match(domain):
        raise TemplateError(
            f"{domain!r} is not a domain name (write the host only, e.g. example.com; "
            "punycode for internationalised names)"
        )
    return domain.lower()


def validate_app_hash(app_hash: str) -> str:
    if not _APP_HASH.match(app_hash):
        raise TemplateError(
            f"{app_hash!r} is not an Android app hash (11 characters of A-Z, a-z, 0-9, + and /)"
        )
    return app_hash


@dataclass(frozen=True, slots=True)
class Autofill:
    """What a service appends so that phones can fill the code in by themselves."""

    android_app_hash: str | None = None
    webotp_domain: str | None = None
    webotp_iframe_domain: str | None = None  # only with webotp_domain (the top-level site)


def compose(template: str, token: str, autofill: Autofill | None = None) -> str:
    """The SMS text. Order: the rendered template (trailing blank space removed), then the
    app hash on a line of its own (SMS Retriever only needs it somewhere in the message),
    then the WebOTP line, which the WebOTP format requires to be the last line:
    `@<domain> #<code>` or `@<domain> #<code> @<iframe domain>`."""
    text = render(template, token)
    if autofill is None:
        return text
    lines = [text.rstrip()]
    if autofill.android_app_hash:
        lines.append(autofill.android_app_hash)
    if autofill.webotp_domain:
        webotp = f"@{autofill.webotp_domain} #{token}"
        if autofill.webotp_iframe_domain:
            webotp += f" @{autofill.webotp_iframe_domain}"
        lines.append(webotp)
    return "\n".join(lines) if len(lines) > 1 else text
