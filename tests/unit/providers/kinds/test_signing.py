"""Standard Webhooks signing: the specification's own test vector."""

from __future__ import annotations

import base64
import hmac

import pytest

from verify_service.providers.kinds.http_generic import HttpGenericProvider
from verify_service.providers.registry import build_provider
from verify_service.webhooks import callbacks
from verify_service.webhooks.signing import lenient_key, secret_key, signature, signature_headers

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


def test_both_signers_give_the_reference_signature() -> None:
    # Status callbacks and the http kind sign through the same module and secret rule.
    assert callbacks.sign(SECRET, MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED
    provider = build_provider(
        "own",
        {"kind": "http", "url": "http://127.0.0.1:1/sms", "body": {"to": "{to}", "t": "{text}"}}
        | {"signing_secret": SECRET},
    )
    assert isinstance(provider, HttpGenericProvider)
    assert provider._key == secret_key(SECRET)


def test_a_plain_callback_secret_keeps_its_key_bytes() -> None:
    # Written before the whsec_ rule: receivers hold the plain secret and use its bytes.
    plain = "plain-secret-1"
    digest = hmac.new(plain.encode(), f"{MSG_ID}.{TIMESTAMP}.".encode() + PAYLOAD, "sha256")
    assert (
        callbacks.sign(plain, MSG_ID, TIMESTAMP, PAYLOAD)
        == "v1," + base64.b64encode(digest.digest()).decode()
    )
    assert lenient_key(SECRET) == secret_key(SECRET)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("whsec_abc", "not valid base64"), ("whsec_***", "empty"), ("", "empty")],
)
def test_a_callback_secret_that_never_signed_is_refused(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        lenient_key(secret)
