"""Standard Webhooks signatures: the published test vector, and a verifier written here
from the specification (not from our code) accepts what we sign."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from application.webhook_signing import is_valid_secret, new_secret, signature, signed_headers

# The Standard Webhooks reference libraries' test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, from the spec: any of the space-separated `v1,` signatures."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(candidate.partition(",")[2], expected)
        for candidate in headers["webhook-signature"].split(" ")
        if candidate.startswith("v1,")
    )


def test_the_published_test_vector_reproduces_exactly() -> None:
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_an_independent_verifier_accepts_our_headers_and_refuses_a_changed_body() -> None:
    secret = new_secret()
    body = b'{"type":"payment.status_changed"}'
    headers = signed_headers(secret, "msg_1", 1_700_000_000, body)

    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(new_secret(), headers, body)
    assert not verify(secret, {**headers, "webhook-timestamp": "1700000001"}, body)


def test_new_secrets_are_whsec_base64_of_24_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 24
    assert is_valid_secret(first)


@pytest.mark.parametrize(
    "secret", ["", "whsec_", "whsec_!!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_YWJj"]
)
def test_malformed_or_short_secrets_are_not_valid(secret: str) -> None:
    assert not is_valid_secret(secret)
