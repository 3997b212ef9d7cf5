"""Checkpoint signatures: Ed25519 keys kept in the data folder, signatures checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.signing import Ed25519Checker, Ed25519Signer, stored_signing_key
from application.audit.chain import GENESIS, checkpoint_message

pytestmark = pytest.mark.unit


def test_a_signature_checks_with_its_key_only() -> None:
    signer, other = Ed25519Signer(bytes(32)), Ed25519Signer(bytes([1] * 32))
    message = checkpoint_message(1_000, GENESIS)
    signature = signer.sign(message)
    checker = Ed25519Checker()

    assert checker.is_valid(signer.public_key, message, signature)
    assert not checker.is_valid(other.public_key, message, signature)
    assert not checker.is_valid(signer.public_key, checkpoint_message(1_001, GENESIS), signature)
    assert not checker.is_valid(b"short", message, signature)


def test_the_embedded_default_keeps_one_private_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit-signing-key"

    first = stored_signing_key(path)
    again = stored_signing_key(path)

    assert first.public_key == again.public_key
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(path.read_text())) == 32


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519Signer.from_hex("abcd")
