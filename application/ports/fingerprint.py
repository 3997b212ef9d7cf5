"""The Fingerprinter port: keyed, one-way fingerprints of secret values (card numbers).

A request digest stored in the log must not let anyone recover the card it covers. An
unkeyed hash of a card number does: knowing the issuer's first digits and the stored last
four, the few hundred thousand candidate numbers are hashed in seconds. A keyed fingerprint
(an HMAC with a secret kept outside the log) cannot be searched without that secret, yet
stays stable, so the same card in the same request still gives the same digest.
"""

from __future__ import annotations

from typing import Protocol


class Fingerprinter(Protocol):
    """Keyed fingerprints: equal (purpose, value), equal fingerprint, for one secret."""

    def fingerprint(self, purpose: str, value: str) -> str:
        """A hex fingerprint of `value` for `purpose` (e.g. `card`); never reversible
        without the secret."""
        ...
