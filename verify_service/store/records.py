"""What the store hands back: a typed view of one verification hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredVerification:
    id: str
    service: str
    to: str
    channel: str
    status: str  # as stored; expiry is derived by the caller from `now_ms`
    token_type: str
    token_length: int
    created_at_ms: int
    updated_at_ms: int
    expires_at_ms: int
    check_attempts: int
    max_check_attempts: int
    max_send_attempts: int
    send_count: int
    sends: tuple[dict[str, Any], ...]
    metadata: dict[str, str]
    code_hashes: tuple[str, ...]
    now_ms: int  # Redis server time when this was read (docs/architecture.md §3, one clock)

    @classmethod
    def from_reply(cls, now: str, flat: Sequence[str]) -> StoredVerification:
        f = dict(zip(flat[::2], flat[1::2], strict=True))
        sends = f.get("sends", "")
        codes = f.get("codes", "")
        return cls(
            id=f["id"],
            service=f["service"],
            to=f["to"],
            channel=f["channel"],
            status=f["status"],
            token_type=f["token_type"],
            token_length=int(f["token_length"]),
            created_at_ms=int(f["created_at"]),
            updated_at_ms=int(f["updated_at"]),
            expires_at_ms=int(f["expires_at"]),
            check_attempts=int(f["check_attempts"]),
            max_check_attempts=int(f["max_check_attempts"]),
            max_send_attempts=int(f["max_send_attempts"]),
            send_count=int(f["send_count"]),
            sends=tuple(json.loads(line) for line in sends.split("\n") if line),
            metadata=json.loads(f["metadata"]) if f.get("metadata") else {},
            code_hashes=tuple(code for code in codes.split("\n") if code),
            now_ms=int(now),
        )
