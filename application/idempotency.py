"""Idempotency keys: a key names a request; a replay returns what the first call made.

A keyed command saves a `RequestClaim` whose id is derived from the caller's scope and the
key, in the same transaction as its effect. A second command with the same key collides
with that claim (whatever its operation), so one key names one operation everywhere, and the
claim says which result (aggregate and version) to return again. Commands that create their
main aggregate (a payment, a journal transaction, a hold) give it the key's own id
(`Request.command_id`), so its id is known from the key alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

import msgspec

from application.principal import Principal
from domain.ids import idempotent_id

_encoder = msgspec.json.Encoder(order="sorted")

IDEMPOTENCY_KEY_LENGTH_MAX = 255


def request_digest(operation: str, **fields: Any) -> str:
    """A stable fingerprint of a request: same operation and fields, same digest."""
    payload = _encoder.encode({"operation": operation, **fields})
    return hashlib.sha256(payload).hexdigest()


def command_id(scope: str, key: str) -> UUID:
    """The id a keyed command gives the aggregate it creates."""
    return idempotent_id(scope, key)


def claim_id(command_id: UUID) -> UUID:
    """The id of the claim a keyed command saves next to its effect."""
    return uuid5(command_id, "claim")


@dataclass(frozen=True)
class Request:
    """A command as the client asked for it: what, a fingerprint of how, and the key."""

    operation: str
    digest: str
    scope: str = ""
    key: str | None = None

    @property
    def command_id(self) -> UUID | None:
        """The key's id (None without a key)."""
        return command_id(self.scope, self.key) if self.key is not None else None


def keyed_request(
    caller: Principal, idempotency_key: str | None, operation: str, **fields: Any
) -> Request:
    """The request of `caller`, keyed within the caller's scope (keys never cross callers)."""
    return Request(
        operation, request_digest(operation, **fields), caller.idempotency_scope, idempotency_key
    )
