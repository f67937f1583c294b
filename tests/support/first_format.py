"""A verification hash as the first format stored it (up to wave 2: long field names, one
`codes` field of `<expires_at_ms> <argon2 encoded hash>` lines, one `sends` field of JSON
lines), for the upgrade tests: the scripts rewrite such a hash in the current format
before they read it (scripts/_prelude.lua `upgrade`)."""

from __future__ import annotations

import json

from verify_service.store import StoredVerification


def first_format(record: StoredVerification, **overrides: str) -> dict[str, str]:
    """`record` in the first format's fields; `overrides` replace fields (e.g. `codes`)."""
    fields = {
        "id": record.id,
        "service": record.service,
        "to": record.to,
        "channel": record.channel,
        "status": record.status,
        "token_type": record.token_type,
        "token_length": str(record.token_length),
        "created_at": str(record.created_at_ms),
        "updated_at": str(record.updated_at_ms),
        "expires_at": str(record.expires_at_ms),
        "check_attempts": str(record.check_attempts),
        "max_check_attempts": str(record.max_check_attempts),
        "max_send_attempts": str(record.max_send_attempts),
        "send_count": str(record.send_count),
        "last_send_at": str(record.created_at_ms),
        "codes": "\n".join(f"{c.expires_at_ms} {c.hash}" for c in record.codes),
        "sends": "\n".join(json.dumps(a, separators=(",", ":")) for a in record.sends),
        "metadata": json.dumps(record.metadata, separators=(",", ":")),
    }
    fields.update(overrides)
    return fields
