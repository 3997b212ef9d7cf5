"""The document read model port: current documents (users, schools, trips, registrations)
kept from the log by a projection, listed newest first by kind, owner or parent."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from application.ports.views import TrackedView


class DocumentView(TrackedView, Protocol):
    """Documents by kind. `put` stores a document (and the tracking record) in one
    transaction; a document keeps the log position it was first put at, which orders lists."""

    def put(
        self,
        kind: str,
        doc_id: UUID,
        owner: str,
        parent: str,
        document: bytes,
        tracking: Tracking,
    ) -> None: ...

    def drop(self, kind: str, doc_id: UUID, tracking: Tracking) -> None:
        """Remove a document (deleted entities leave lists)."""
        ...

    def get(self, kind: str, doc_id: UUID) -> bytes | None: ...

    def page(
        self,
        kind: str,
        owner: str | None,
        parent: str | None,
        before_position: int | None,
        limit: int,
    ) -> list[tuple[int, bytes]]:
        """(position, document) of one kind, newest first, filtered by owner or parent."""
        ...
