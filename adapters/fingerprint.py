"""The `Fingerprinter` port as an HMAC-SHA256 keyed with a secret from configuration."""

from __future__ import annotations

import hashlib
import hmac

SECRET_BYTES_MIN = 16


class HmacFingerprinter:
    """HMAC-SHA256 over the purpose and the value (length-prefixed, so no two pairs
    collide); the secret never leaves this object, not even in its repr."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES_MIN:
            raise ValueError(f"The fingerprint secret needs at least {SECRET_BYTES_MIN} bytes.")
        self._secret = secret

    def __repr__(self) -> str:
        return "HmacFingerprinter(secret=<hidden>)"

    def fingerprint(self, purpose: str, value: str) -> str:
        """A hex HMAC-SHA256 of `value` for `purpose`."""
        message = f"{len(purpose)}:{purpose}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
