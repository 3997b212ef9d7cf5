"""The auditor's view of the event store: the stored log, its hash chain and checkpoints.

Read straight from the stored events table (not through the projections), in large pages,
so a replay costs one round trip per page instead of one per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol
from uuid import UUID


class StoredRecord(NamedTuple):
    """One stored event as the recorder wrote it: `state` is the stored bytes, `key` the
    aggregate id's 16 bytes (cheap to compare and hash in a replay's inner loop)."""

    position: int
    key: bytes
    version: int
    topic: str
    state: bytes

    @property
    def aggregate_id(self) -> UUID:
        return UUID(bytes=self.key)


# What the hot loops read: plain tuples, unpacked (no object per event).
Row = tuple[int, bytes, int, str, bytes]  # position, key, version, topic, state
LinkRow = tuple[int, bytes]  # position, link


class ChainLink(NamedTuple):
    """The hash chain's link at one log position."""

    position: int
    link: bytes


class Checkpoint(NamedTuple):
    """A signed statement of the chain head: `signature` signs `checkpoint_message`."""

    position: int
    link: bytes
    signature: bytes
    public_key: bytes


class AuditLog(Protocol):
    """Pages of the stored log, its chain and its checkpoints, in log order."""

    def head(self) -> int:
        """The highest log position (0 when the log is empty)."""
        ...

    def records(self, after: int, upto: int | None, limit: int) -> Sequence[Row]:
        """Up to `limit` stored events with `after < position <= upto`, in log order, as
        rows in `StoredRecord`'s field order."""
        ...

    def links(self, after: int, upto: int | None, limit: int) -> Sequence[LinkRow]:
        """Up to `limit` chain links with `after < position <= upto`, in log order."""
        ...

    def checkpoints(self) -> Sequence[Checkpoint]:
        """Every signed checkpoint, in position order."""
        ...

    @property
    def has_chain(self) -> bool:
        """False where the backend keeps no chain (the in-memory store)."""
        ...


class SignatureChecker(Protocol):
    """Checks a checkpoint's signature (Ed25519)."""

    def is_valid(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...
