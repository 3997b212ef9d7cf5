"""Idempotency keys: a key names an aggregate; a replay returns what the first call made."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, uuid4

import msgspec

from domain.errors import IdempotencyKeyReusedError
from domain.ids import idempotent_id

_encoder = msgspec.json.Encoder(order="sorted")

IDEMPOTENCY_KEY_LENGTH_MAX = 255


def request_digest(operation: str, **fields: Any) -> str:
    """A stable fingerprint of a request: same operation and fields, same digest."""
    payload = _encoder.encode({"operation": operation, **fields})
    return hashlib.sha256(payload).hexdigest()


def command_id(scope: str, key: str | None) -> UUID:
    """The id a command's main aggregate takes: from the key if given, else random."""
    if key is None:
        return uuid4()
    return idempotent_id(scope, key)


def check_same_request(stored_digest: str, digest: str) -> None:
    """A key replayed with a different request is refused, never silently applied."""
    if stored_digest != digest:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was already used with a different request."
        )
