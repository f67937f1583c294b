"""Standard Webhooks signing: the specification's own test vector."""

from __future__ import annotations

import pytest

from verify_service.webhooks.signing import secret_key, signature, signature_headers

# From the Standard Webhooks reference libraries' test suites.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_vector() -> None:
    assert signature(secret_key(SECRET), MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED


def test_headers() -> None:
    assert signature_headers(secret_key(SECRET), MSG_ID, TIMESTAMP, PAYLOAD) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": EXPECTED,
    }


def test_an_id_with_a_dot_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        signature_headers(secret_key(SECRET), "msg.1", TIMESTAMP, PAYLOAD)
