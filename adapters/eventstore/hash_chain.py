"""The hash chain as recorders write it: links for newly stored events, and checkpoints.

Both event-store recorders (`postgres_recorder.py`, `sqlite_recorder.py`) call `extend` in
the transaction that inserts the events, after the insert has given them their positions and
while writers are serialized (PostgreSQL's table lock, SQLite's write lock), so the head they
read is the link of the last committed event. See `application/audit/chain.py` for the format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from application.audit.chain import GENESIS, checkpoint_message, link_of

CHECKPOINT_INTERVAL = 1_000


class CheckpointSigner(Protocol):
    """Signs checkpoint messages (Ed25519)."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass
class ChainPolicy:
    """Whether and how often the recorder signs a checkpoint of the chain head: when the
    head crosses a multiple of `interval` positions."""

    signer: CheckpointSigner | None = None
    interval: int = CHECKPOINT_INTERVAL


@dataclass(frozen=True)
class Extension:
    """What one transaction adds: links, and maybe a signed checkpoint."""

    links: list[tuple[int, bytes]]
    checkpoint: tuple[int, bytes, bytes, bytes] | None  # position, link, signature, key


def as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def extend(
    head: tuple[int, bytes] | None,
    stored: Iterable[tuple[int, StoredEvent]],
    policy: ChainPolicy,
) -> Extension:
    """Links of `stored` (position, event) after `head` (position, link), in position order."""
    head_position, previous = head if head is not None else (0, GENESIS)
    links: list[tuple[int, bytes]] = []
    for position, event in sorted(stored, key=lambda pair: pair[0]):
        previous = link_of(
            previous,
            position,
            as_uuid(event.originator_id).bytes,
            event.originator_version,
            event.topic,
            event.state,
        )
        links.append((position, previous))
    checkpoint = None
    if links and policy.signer is not None:
        position = links[-1][0]
        if position // policy.interval > head_position // policy.interval:
            signature = policy.signer.sign(checkpoint_message(position, previous))
            checkpoint = (position, previous, signature, policy.signer.public_key)
    return Extension(links, checkpoint)


def pair_ids(ids: Sequence[int], events: Sequence[StoredEvent]) -> list[tuple[int, StoredEvent]]:
    """Positions matched to the events they were returned for."""
    if len(ids) != len(events):
        msg = f"got {len(ids)} positions for {len(events)} events"
        raise ValueError(msg)
    return list(zip(ids, events, strict=True))
