"""Keyed argon2id hashes of one-time codes.

hash = argon2id(HMAC-SHA256(pepper, code), salt). The pepper lives only in the service's
environment, so a stolen Redis dump alone does not allow brute-forcing the small code space.

The salt is derived per (service, number) rather than drawn per hash: every code of one
verification then shares it, and a check costs exactly one argon2 computation however many
resends there were (the candidate's hash is compared with each stored one in constant time).
Uniqueness per target is what a salt is for; the pepper already rules out precomputation.

Pepper rotation: new hashes use the newest pepper; checks also accept hashes made with the
previous ones. Because the salt is HMAC(pepper, scope), the salt inside a stored hash names
the pepper that made it: a check picks that pepper directly instead of trying each, so it
still costs one argon2 run in the common case (and one per pepper actually present while a
verification started before the rotation also has resends made after it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
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

    def __init__(
        self, pepper: bytes, params: HashParams, previous_peppers: Sequence[bytes] = ()
    ) -> None:
        peppers = (pepper, *previous_peppers)
        if any(len(p) < 16 for p in peppers):
            raise ValueError("the pepper must be at least 16 bytes")
        self._pepper = pepper
        self._peppers = peppers
        self.params = params

    def salt_for(self, scope: str, pepper: bytes | None = None) -> bytes:
        key = self._pepper if pepper is None else pepper
        return hmac.new(key, b"salt\x00" + scope.encode(), hashlib.sha256).digest()[:SALT_LENGTH]

    def hash(self, code: str, scope: str) -> str:
        return self._hash(code, self._pepper, self.salt_for(scope), self.params)

    def matches(self, code: str, scope: str, stored: Iterable[str]) -> bool:
        """True if `code` matches any stored hash. One argon2 run per (pepper, parameters)
        found (normally one); every comparison runs, in constant time, whatever matched.
        Hashes made with a pepper that is no longer configured never match."""
        # Oldest first, so that the newest pepper wins if two ever derived the same salt.
        by_salt = {self.salt_for(scope, p): p for p in reversed(self._peppers)}
        computed: dict[tuple[bytes, HashParams], bytes] = {}
        found = False
        for encoded in stored:
            parsed = _parse(encoded)
            if parsed is None:
                continue
            params, salt = parsed
            pepper = by_salt.get(salt)
            if pepper is None:
                continue
            if (salt, params) not in computed:
                computed[salt, params] = self._hash(code, pepper, salt, params).encode()
            found |= hmac.compare_digest(computed[salt, params], encoded.encode())
        return found

    @staticmethod
    def _hash(code: str, pepper: bytes, salt: bytes, params: HashParams) -> str:
        keyed = hmac.new(pepper, code.encode(), hashlib.sha256).digest()
        return hash_secret(
            keyed,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=HASH_LENGTH,
            type=Type.ID,
        ).decode()


def _parse(encoded: str) -> tuple[HashParams, bytes] | None:
    # "$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 without padding>$<hash>"
    parts = encoded.split("$")
    if len(parts) != 6 or parts[1] != "argon2id":
        return None
    try:
        fields = dict(item.split("=", 1) for item in parts[3].split(","))
        params = HashParams(
            time_cost=int(fields["t"]),
            memory_cost_kib=int(fields["m"]),
            parallelism=int(fields["p"]),
        )
        salt = base64.b64decode(parts[4] + "=" * (-len(parts[4]) % 4), validate=True)
    except (KeyError, ValueError, binascii.Error):
        return None
    return params, salt
