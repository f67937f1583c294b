"""What the store hands back: a typed view of one verification hash, and the packed form
of a send attempt in it.

The hash's fields are named in `scripts/_prelude.lua` (short names, one field per code and
per send attempt, every value short enough for a listpack: docs/performance.md). Scripts
upgrade a verification of the first format before they read it, so only the current one
arrives here; a send attempt may still be a JSON object (upgraded, not repacked)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from verify_service.domain.timestamps import rfc3339

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One letter for the common words; any other word is stored as it is (never one letter).
_STATUS = {"sent": "s", "failed": "f", "delivered": "d", "undelivered": "u"}
_CHANNEL = {"sms": "s", "whatsapp": "w", "voice": "v", "email": "e"}
_STATUS_WORD = {v: k for k, v in _STATUS.items()}
_CHANNEL_WORD = {v: k for k, v in _CHANNEL.items()}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def escape(text: str) -> str:
    """`text` safe between the packed form's `|` separators and in a newline-separated
    script argument: `%`, `|`, CR and LF percent-encoded (nothing else, to stay short)."""
    return text.replace("%", "%25").replace("|", "%7C").replace("\n", "%0A").replace("\r", "%0D")


def _unescape(text: str) -> str:
    if "%" not in text:  # nearly every value: nothing was escaped
        return text
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%7C", "|").replace("%25", "%")


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


def pack_attempt(attempt: Mapping[str, Any]) -> str:
    """A send attempt in `SendAttempt.to_json`'s shape as stored: `at|status|channel|
    provider|message id|error`, `at` in ms since the epoch (base 36), status and channel
    one letter where they are the usual words, the texts `escape`d, None as empty. About
    60 bytes with a 38-character message id, within Redis's listpack value limit (64)."""
    at = datetime.fromisoformat(str(attempt["at"]))
    ms = (at - _EPOCH) // timedelta(milliseconds=1)
    parts = (
        _base36(ms) if ms >= 0 else "-" + _base36(-ms),
        _STATUS.get(attempt["status"], attempt["status"]),
        _CHANNEL.get(attempt.get("channel") or "sms", attempt.get("channel") or "sms"),
        escape(str(attempt["provider"])),
        escape(attempt.get("message_id") or ""),
        escape(attempt.get("error") or ""),
    )
    return "|".join(parts)


def unpack_attempt(value: str) -> dict[str, Any]:
    """The inverse of `pack_attempt` (empty texts read as None), or a JSON object as the
    first format stored it."""
    if value.startswith("{"):
        loaded: dict[str, Any] = json.loads(value)
        return loaded
    at, status, channel, provider, message_id, error = value.split("|", 5)
    ms = -int(at[1:], 36) if at.startswith("-") else int(at, 36)
    return {
        "at": rfc3339(_EPOCH + timedelta(milliseconds=ms)),
        "provider": _unescape(provider),
        "message_id": _unescape(message_id) or None,
        "status": _STATUS_WORD.get(status, status),
        "error": _unescape(error) or None,
        "channel": _CHANNEL_WORD.get(channel, channel),
    }


@dataclass(frozen=True, slots=True)
class StoredCode:
    """One code's hash (or a delegation marker) and the moment it stops working (Redis
    time, ms): the field `c:<expires_at_ms>` = the hash."""

    hash: str
    expires_at_ms: int


def _codes(f: Mapping[str, str]) -> tuple[StoredCode, ...]:
    found = [StoredCode(v, int(k[2:])) for k, v in f.items() if k.startswith("c:")]
    return tuple(sorted(found, key=lambda c: c.expires_at_ms))


def _sends(f: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    found = sorted((int(k[2:]), v) for k, v in f.items() if k.startswith("s:"))
    return tuple(unpack_attempt(v) for _, v in found)


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
    codes: tuple[StoredCode, ...]  # by expiry, soonest first
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
        """The whole verification from a script's reply (`reply_all`: `id`, then every
        field of the hash, as name, value, ...)."""
        f = dict(zip(flat[::2], flat[1::2], strict=True))
        return cls(
            id=f["id"],
            service=f["sv"],
            to=f["to"],
            channel=f["ch"],
            status=f["st"],
            token_type=f["tt"],
            token_length=int(f["tl"]),
            created_at_ms=int(f["ca"]),
            updated_at_ms=int(f["ua"]),
            expires_at_ms=int(f["ea"]),
            check_attempts=int(f["ck"]),
            max_check_attempts=int(f["mc"]),
            max_send_attempts=int(f["ms"]),
            send_count=int(f["sc"]),
            sends=_sends(f),
            metadata=json.loads(f["md"]) if f.get("md") else {},
            codes=_codes(f),
            now_ms=int(now),
        )

    def updated(self, now: str, flat: Sequence[str], *, lists: bool) -> StoredVerification:
        """This record with what a state change replied (the fields it can move, as name,
        value, ...). `lists`: the reply holds every code and send attempt (record_send);
        else only scalars (finish), and the codes are gone once it is no longer pending."""
        f = dict(zip(flat[::2], flat[1::2], strict=True))
        changes: dict[str, Any] = {"now_ms": int(now)}
        for name, attribute in _DYNAMIC:
            if name in f:
                changes[attribute] = f[name] if name == "st" else int(f[name])
        if lists:
            changes["codes"], changes["sends"] = _codes(f), _sends(f)
        elif changes.get("status", self.status) != "pending":
            changes["codes"] = ()
        return dataclasses.replace(self, **changes)


# The scalar fields a state change can move, and their attributes.
_DYNAMIC = (
    ("st", "status"),
    ("ua", "updated_at_ms"),
    ("ea", "expires_at_ms"),
    ("ck", "check_attempts"),
    ("sc", "send_count"),
)
