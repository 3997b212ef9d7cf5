"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`,
`webhook-timestamp`, and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`
keyed with the base64-decoded part of the `whsec_` secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 24


def new_secret() -> str:
    """A new signing secret, `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (a secret without the prefix is taken whole)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded, validate=True)


def is_valid_secret(secret: str) -> bool:
    try:
        return secret.startswith(SECRET_PREFIX) and len(secret_key(secret)) >= 16
    except ValueError:
        return False


def signature(secret: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    """`v1,<base64 signature>` of one message as sent at `timestamp_s`."""
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt."""
    return {
        "content-type": "application/json",
        "user-agent": "PayLedger-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": signature(secret, message_id, timestamp_s, body),
    }
