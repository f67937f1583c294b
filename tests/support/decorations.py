"""How people type a code, as a hypothesis strategy: decorations drawn from the whole
class README "Checking a code" drops, any script's digits, full-width forms, and for the
upper-case alphabet any case."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from hypothesis import strategies as st

from verify_service.domain.tokens import TokenType

# Decorations drawn from the whole class, not a list: any Unicode whitespace or line break,
# any format character (Cf), any dash (Pd).
_DECORATIONS = st.characters(categories=["Zs", "Zl", "Zp", "Cf", "Pd"]) | st.sampled_from(
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2212"
)
_DIGIT_SCRIPTS = [
    c for c in map(chr, range(0x110000)) if unicodedata.decimal(c, None) == 0 and c != "0"
]


@dataclass(frozen=True)
class Decoration:
    """How one person types a code: what comes before each symbol and after the last,
    which script's digits, which symbols full-width, which letters in lower case. Drawn
    before the code exists (the service draws it), so it fits any code of <= 12 symbols."""

    around: list[str]
    zero: str
    full_width: list[bool]
    lower: list[bool]

    def apply(self, code: str, token_type: TokenType) -> str:
        typed = []
        for i, symbol in enumerate(code):
            typed.append(self.around[i])
            if symbol.isdigit():
                symbol = chr(ord(self.zero) + int(symbol))
            elif token_type is TokenType.ALPHANUMERIC and self.lower[i]:
                symbol = symbol.lower()
            if self.full_width[i] and symbol.isascii():  # as East Asian input methods give
                symbol = chr(ord(symbol) + 0xFEE0)
            typed.append(symbol)
        return "".join(typed) + self.around[len(code)]


decorations = st.builds(
    Decoration,
    around=st.lists(st.text(_DECORATIONS, max_size=2), min_size=13, max_size=13),
    zero=st.sampled_from(["0", *_DIGIT_SCRIPTS]),  # one script's digits per code
    full_width=st.lists(st.booleans(), min_size=12, max_size=12),
    lower=st.lists(st.booleans(), min_size=12, max_size=12),
)
