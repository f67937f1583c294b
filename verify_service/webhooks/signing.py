"""Request signing in the Standard Webhooks style (standardwebhooks.com, symmetric "v1").

The receiver recomputes HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" with
the shared secret and compares in constant time; the timestamp lets it refuse replays."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format marker, not a secret
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # the spec's bounds for symmetric secrets


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError naming the problem (never
    the secret itself)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"signing_secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("signing_secret is not valid base64 after 'whsec_'") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"signing_secret must decode to {MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    # The id and timestamp are part of the signed string: a "." inside the id would make
    # "<id>.<ts>" ambiguous, hence the spec's rule against it.
    if "." in webhook_id:
        raise ValueError("a webhook id must not contain '.'")
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, webhook_id, timestamp, body),
    }
