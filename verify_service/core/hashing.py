"""Keyed argon2id hashes of one-time codes.

hash = argon2id(HMAC-SHA256(pepper, code), salt). The pepper lives only in the service's
environment, so a stolen Redis dump alone does not allow brute-forcing the small code space.

The salt is derived per (service, number) rather than drawn per hash: every code of one
verification then shares it, and a check costs exactly one argon2 computation however many
resends there were (the candidate's hash is compared with each stored one in constant time).
Uniqueness per target is what a salt is for; the pepper already rules out precomputation.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret

SALT_LENGTH = 16
HASH_LENGTH = 32


@dataclass(frozen=True, slots=True)
class HashParams:
    time_cost: int = 2
    memory_cost_kib: int = 19456
    parallelism: int = 1


class CodeHasher:
    """Blocking by design (argon2 is CPU- and memory-bound): call it from a worker thread."""

    def __init__(self, pepper: bytes, params: HashParams) -> None:
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        self._pepper = pepper
        self.params = params

    def salt_for(self, scope: str) -> bytes:
        return hmac.new(self._pepper, b"salt\x00" + scope.encode(), hashlib.sha256).digest()[
            :SALT_LENGTH
        ]

    def hash(self, code: str, scope: str) -> str:
        return self._hash(code, self.salt_for(scope), self.params)

    def matches(self, code: str, scope: str, stored: Iterable[str]) -> bool:
        """True if `code` matches any stored hash. One argon2 run per parameter set found
        (normally one); every comparison runs, in constant time, whatever matched."""
        salt = self.salt_for(scope)
        computed: dict[HashParams, bytes] = {}
        found = False
        for encoded in stored:
            params = _params_of(encoded)
            if params is None:
                continue
            if params not in computed:
                computed[params] = self._hash(code, salt, params).encode()
            found |= hmac.compare_digest(computed[params], encoded.encode())
        return found

    def _hash(self, code: str, salt: bytes, params: HashParams) -> str:
        keyed = hmac.new(self._pepper, code.encode(), hashlib.sha256).digest()
        return hash_secret(
            keyed,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=HASH_LENGTH,
            type=Type.ID,
        ).decode()


def _params_of(encoded: str) -> HashParams | None:
    # "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"
    parts = encoded.split("$")
    if len(parts) != 6 or parts[1] != "argon2id":
        return None
    try:
        fields = dict(item.split("=", 1) for item in parts[3].split(","))
        return HashParams(
            time_cost=int(fields["t"]),
            memory_cost_kib=int(fields["m"]),
            parallelism=int(fields["p"]),
        )
    except (KeyError, ValueError):
        return None
