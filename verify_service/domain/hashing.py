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
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret

SALT_LENGTH = 16
HASH_LENGTH = 32
# The stored form: t, p, m (KiB), the salt's first byte, the tag (see the module's doc).
_COMPACT = struct.Struct(f">BBIB{HASH_LENGTH}s")
COMPACT_LENGTH = 4 * _COMPACT.size // 3  # base64 characters, no padding (39 bytes: 52)


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
        """The stored form of `code`'s hash for `scope` (the module's doc): 52 base64
        characters; argon2's encoded string for parameters beyond one byte (t, p > 255)."""
        salt = self.salt_for(scope)
        encoded = self._hash(code, self._pepper, salt, self.params)
        p = self.params
        if p.time_cost > 255 or p.parallelism > 255 or p.memory_cost_kib >= 2**32:
            return encoded
        packed = _COMPACT.pack(
            p.time_cost, p.parallelism, p.memory_cost_kib, salt[0], _tag(encoded)
        )
        return base64.b64encode(packed).decode()

    def matches(self, code: str, scope: str, stored: Iterable[str]) -> bool:
        """True if `code` matches any stored hash (either stored form). One argon2 run per
        (pepper, parameters) found (normally one); every comparison runs, in constant
        time, whatever matched. Hashes made with a pepper that is no longer configured
        never match; neither does anything that is not a hash (a delegation marker)."""
        # Oldest first, so that the newest pepper wins if two ever derived the same salt.
        by_salt = {self.salt_for(scope, p): p for p in reversed(self._peppers)}
        computed: dict[tuple[bytes, HashParams], bytes] = {}
        found = False
        for text in stored:
            for params, salt, tag in _candidates(text, by_salt):
                if (salt, params) not in computed:
                    encoded = self._hash(code, by_salt[salt], salt, params)
                    computed[salt, params] = _tag(encoded)
                found |= hmac.compare_digest(computed[salt, params], tag)
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


def _tag(encoded: str) -> bytes:
    """The raw tag of argon2's encoded string (its last `$` part, base64 unpadded)."""
    part = encoded.rsplit("$", 1)[-1]
    return base64.b64decode(part + "=" * (-len(part) % 4))


def _candidates(text: str, by_salt: dict[bytes, bytes]) -> list[tuple[HashParams, bytes, bytes]]:
    """(parameters, salt, tag) to compare `text` with, for each configured pepper's salt
    it may have been made with: none for a string that is not a hash or whose pepper is
    gone; normally one (the compact form names its salt by one byte: two peppers sharing
    it, 1 in 256, cost a second run)."""
    if text.startswith("$"):
        parsed = _parse(text)
        if parsed is None or parsed[1] not in by_salt:
            return []
        return [(parsed[0], parsed[1], _tag(text))]
    if len(text) != COMPACT_LENGTH:
        return []
    try:
        t, p, m, salt_id, tag = _COMPACT.unpack(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, struct.error):
        return []
    if not (t and p and m):
        return []
    params = HashParams(time_cost=t, memory_cost_kib=m, parallelism=p)
    return [(params, salt, tag) for salt in by_salt if salt[0] == salt_id]


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
        base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4), validate=True)
    except (KeyError, ValueError, binascii.Error):
        return None
    return params, salt
