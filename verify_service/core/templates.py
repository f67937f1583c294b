"""Message templates: `%TOKEN%` placeholders, per-locale choice with fallback."""

from __future__ import annotations

from collections.abc import Mapping

PLACEHOLDER = "%TOKEN%"
MAX_TEMPLATE_LENGTH = 640  # characters; four concatenated SMS of UCS-2, ample for a code


class TemplateError(ValueError):
    pass


def validate_template(template: str) -> str:
    if PLACEHOLDER not in template:
        raise TemplateError(f"the template must contain {PLACEHOLDER}")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"the template is longer than {MAX_TEMPLATE_LENGTH} characters")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in template):
        raise TemplateError("the template contains control characters")
    return template


def render(template: str, token: str) -> str:
    """Every occurrence is replaced: `%TOKEN%` may appear more than once (e.g. WebOTP line)."""
    return template.replace(PLACEHOLDER, token)


def choose_template(default: str, by_locale: Mapping[str, str], locale: str | None) -> str:
    """Exact locale (`de-CH`), then its language (`de`), then the service's default."""
    if locale:
        wanted = locale.strip().replace("_", "-").lower()
        lowered = {key.lower(): value for key, value in by_locale.items()}
        if wanted in lowered:
            return lowered[wanted]
        language = wanted.split("-", 1)[0]
        if language in lowered:
            return lowered[language]
    return default
