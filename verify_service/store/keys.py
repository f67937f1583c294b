"""Key schema.

Every key of one (service, number) carries the same Redis Cluster hash tag, so each Lua
script touches a single slot. The tag is a digest rather than the number itself: it is
embedded in the verification id, which makes a lookup by id a single round trip (no id ->
key index to read first), and keeps phone numbers and service names out of key names.

    vs:{<tag>}:last        id of the number's latest verification
    vs:{<tag>}:v:<id>      hash: the verification (code hashes only while pending)
    vs:idem:{<digest>}     idempotency record of one (service, Idempotency-Key)
    vs:outbox:{<digest>}   test outbox of one number (test_mode only)
    vs:msg:{<digest>}      id of the verification a (provider, message id) was sent for,
                           so that a delivery report finds its verification
"""

from __future__ import annotations

import hashlib
import re
import secrets

TAG_HEX = 16
ID_PREFIX = "ver_"
_ID = re.compile(rf"^{ID_PREFIX}([0-9a-f]{{{TAG_HEX}}})[0-9a-f]{{16}}$")


def tag_for(service: str, to: str) -> str:
    return hashlib.sha256(f"{service}\x00{to}".encode()).hexdigest()[:TAG_HEX]


def prefix(tag: str) -> str:
    return f"vs:{{{tag}}}"


def new_id(tag: str) -> str:
    return f"{ID_PREFIX}{tag}{secrets.token_hex(8)}"


def tag_of_id(verification_id: str) -> str | None:
    """The tag inside a well-formed id; None for anything else (never a key to look up)."""
    match = _ID.match(verification_id)
    return match.group(1) if match else None


def idempotency_key(service: str, key: str) -> str:
    digest = hashlib.sha256(f"{service}\x00{key}".encode()).hexdigest()[:32]
    return f"vs:idem:{{{digest}}}"


def outbox_key(to: str) -> str:
    digest = hashlib.sha256(f"outbox\x00{to}".encode()).hexdigest()[:TAG_HEX]
    return f"vs:outbox:{{{digest}}}"


def message_key(provider: str, message_id: str) -> str:
    # Its own slot: a report knows the provider's message id, not the (service, number).
    digest = hashlib.sha256(f"{provider}\x00{message_id}".encode()).hexdigest()[:32]
    return f"vs:msg:{{{digest}}}"
