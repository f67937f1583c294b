"""What the store hands back: a typed view of one verification hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredCode:
    """One code's hash (or a delegation marker) and the moment it stops working (Redis
    time, ms). Stored as a line `<expires_at_ms> <hash>` of the `codes` field; a line with
    no expiry (records written before codes had their own) lasts as long as its
    verification."""

    hash: str
    expires_at_ms: int

    @classmethod
    def parse(cls, line: str, default_expiry_ms: int) -> StoredCode:
        expiry, sep, code_hash = line.partition(" ")
        if sep and expiry.isdigit():
            return cls(code_hash, int(expiry))
        return cls(line, default_expiry_ms)


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
    codes: tuple[StoredCode, ...]
    now_ms: int  # Redis server time when this was read (docs/architecture.md §3, one clock)

    @property
    def code_hashes(self) -> tuple[str, ...]:
        """Every stored hash or marker, expired or not."""
        return tuple(code.hash for code in self.codes)

    @property
    def live_code_hashes(self) -> tuple[str, ...]:
        """The hashes of the codes that still work at `now_ms`: a check compares with
        these only (README "Checking a code": each code keeps its own expiry)."""
        return tuple(code.hash for code in self.codes if self.now_ms < code.expires_at_ms)

    @classmethod
    def from_reply(cls, now: str, flat: Sequence[str]) -> StoredVerification:
        f = dict(zip(flat[::2], flat[1::2], strict=True))
        sends = f.get("sends", "")
        codes = f.get("codes", "")
        expires_at_ms = int(f["expires_at"])
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
            expires_at_ms=expires_at_ms,
            check_attempts=int(f["check_attempts"]),
            max_check_attempts=int(f["max_check_attempts"]),
            max_send_attempts=int(f["max_send_attempts"]),
            send_count=int(f["send_count"]),
            sends=tuple(json.loads(line) for line in sends.split("\n") if line),
            metadata=json.loads(f["metadata"]) if f.get("metadata") else {},
            codes=tuple(
                StoredCode.parse(line, expires_at_ms) for line in codes.split("\n") if line
            ),
            now_ms=int(now),
        )
