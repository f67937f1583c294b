"""OWASP's argon2id minimums (Password Storage Cheat Sheet, "Argon2id"): one of m = 47104
KiB (46 MiB) with t = 1, 19456 (19 MiB) with t = 2, 12288 (12 MiB) with t = 3, 9216 (9 MiB)
with t = 4, or 7168 (7 MiB) with t = 5, and p = 1 or more. The profiles trade memory for
passes at equal cost to a guesser; below them a stolen hash is cheaper to search. More
passes than five do not lower the memory further (OWASP lists none below 7 MiB)."""

from __future__ import annotations

_MIN_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216}
_MIN_MEMORY_KIB_FROM_5 = 7168

PROFILES = "m=47104 KiB with t=1, 19456 with t=2, 12288 with t=3, 9216 with t=4, 7168 with t>=5"


def min_memory_kib(time_cost: int) -> int:
    """The least memory (KiB) OWASP accepts for `time_cost` passes (>= 1)."""
    return _MIN_MEMORY_KIB.get(time_cost, _MIN_MEMORY_KIB_FROM_5)


def below_floor(memory_kib: int, time_cost: int) -> bool:
    """Whether (m, t) is weaker than every OWASP argon2id profile."""
    return time_cost < 1 or memory_kib < min_memory_kib(time_cost)
