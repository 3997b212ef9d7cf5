"""Ed25519 signatures of the hash chain's checkpoints (the `cryptography` package).

Keys are 32-byte Ed25519 seeds written as hex. On the embedded default the key is generated
once into the data folder (mode 0600), like the token secret; a PostgreSQL deployment
configures it (`PAYLEDGER_AUDIT_SIGNING_KEY`) so every process signs with the same key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SEED_BYTES = 32


class Ed25519Signer:
    """Signs with one private key; `public_key` is its raw 32-byte public key."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            msg = f"an Ed25519 key is {SEED_BYTES} bytes (64 hex digits)"
            raise ValueError(msg)
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def from_hex(cls, text: str) -> Ed25519Signer:
        return cls(bytes.fromhex(text.strip()))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class Ed25519Checker:
    """Checks Ed25519 signatures (the `SignatureChecker` port)."""

    def is_valid(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def stored_signing_key(path: Path) -> Ed25519Signer:
    """The signer whose seed is kept in `path`, generated (mode 0600) on first use."""
    if path.exists() and path.read_text().strip():
        return Ed25519Signer.from_hex(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return Ed25519Signer.from_hex(path.read_text())
    with os.fdopen(fd, "w") as file:
        file.write(os.urandom(SEED_BYTES).hex())
    return Ed25519Signer.from_hex(path.read_text())


def install_chain_policy(recorder: object, signer: Ed25519Signer | None, interval: int) -> None:
    """Give an event store's recorder its checkpoint signer (if it keeps a chain)."""
    from adapters.eventstore.hash_chain import ChainPolicy

    if hasattr(recorder, "chain_policy"):
        recorder.chain_policy = ChainPolicy(signer, interval)
