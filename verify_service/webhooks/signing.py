"""Request signing in the Standard Webhooks style (standardwebhooks.com, symmetric "v1"),
the one signer of the service: status callbacks (webhooks/callbacks.py) and the `http`
provider kind's `signing_secret` (providers/kinds/http_generic.py) both sign through here.

The receiver recomputes HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" with
the shared key and compares in constant time; the timestamp lets it refuse replays.

The secret rule (the specification's): `whsec_` followed by the standard base64 of 24-64
random bytes (as the Standard Webhooks libraries generate them); the key is those bytes.
One exception, kept so that configs written before the rule keep loading and their
receivers keep verifying: a `status_callback_secret` the rule refuses is read as status
callbacks read it then (`lenient_key`)."""

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


def is_strict(secret: str) -> bool:
    """Whether `secret` meets the rule of `secret_key`."""
    try:
        secret_key(secret)
    except ValueError:
        return False
    return True


def lenient_key(secret: str) -> bytes:
    """The key of a status callback secret: `secret_key`'s where the rule holds, else the
    key status callbacks derived before they shared this rule, byte for byte: a secret
    without the prefix is its UTF-8 bytes; after `whsec_`, base64 decoded leniently
    (characters outside the alphabet skipped). ValueError for base64 that does not decode
    at all (every delivery failed with it before) and for an empty key (no authentication)."""
    try:
        return secret_key(secret)
    except ValueError:
        pass
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :])
        except (binascii.Error, ValueError):
            raise ValueError("the secret is not valid base64 after 'whsec_'") from None
    else:
        key = secret.encode()
    if not key:
        raise ValueError("the secret is empty")
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(key, "<webhook_id>.<timestamp>.<body>")>`; `timestamp` in
    unix seconds."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks request headers; ValueError for an id with a '.'."""
    # The id and timestamp are part of the signed string: a "." inside the id would make
    # "<id>.<ts>" ambiguous, hence the spec's rule against it.
    if "." in webhook_id:
        raise ValueError("a webhook id must not contain '.'")
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, webhook_id, timestamp, body),
    }
