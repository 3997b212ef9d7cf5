"""The document read model, in SQL: one row per entity (a user, a school, a trip, a
registration), its current document as JSON, listed newest first by kind, owner or parent.

Every write stores its row and the event's tracking record in one transaction, so each event
changes the view exactly once.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Tracking

from adapters.views.sql import ViewDatabase
from adapters.views.tracking import SqlView
from application.ports.documents import DocumentView

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {documents} ("
    "kind {text} NOT NULL, doc_id {uuid} NOT NULL, owner {text} NOT NULL, "
    "parent {text} NOT NULL, position {bigint} NOT NULL, document {text} NOT NULL, "
    "PRIMARY KEY (kind, doc_id))",
    "CREATE INDEX IF NOT EXISTS {kind_index} ON {documents} (kind, position)",
    "CREATE INDEX IF NOT EXISTS {owner_index} ON {documents} (kind, owner, position)",
    "CREATE INDEX IF NOT EXISTS {parent_index} ON {documents} (kind, parent, position)",
)
# A document keeps the position it was first put at (lists stay in creation order).
_PUT = (
    "INSERT INTO {documents} AS d (kind, doc_id, owner, parent, position, document) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, doc_id) DO UPDATE "
    "SET owner = excluded.owner, parent = excluded.parent, document = excluded.document"
)
_DROP = "DELETE FROM {documents} WHERE kind = ? AND doc_id = ?"
_GET = "SELECT document FROM {documents} WHERE kind = ? AND doc_id = ?"
_PAGE = (
    "SELECT position, document FROM {documents} WHERE kind = ?{filters} "
    "ORDER BY position DESC LIMIT ?"
)


class SqlDocumentView(SqlView, DocumentView):
    """Documents by kind, for the catalog and identity lists."""

    tables = {"documents": "documents"}
    indexes = {
        "kind_index": "documents_kind_idx",
        "owner_index": "documents_owner_idx",
        "parent_index": "documents_parent_idx",
    }
    create = _CREATE

    def __init__(
        self,
        database: ViewDatabase,
        application_name: str = "payledger",
        tracking_table_name: str = "documents_view_tracking",
    ) -> None:
        super().__init__(database, application_name, tracking_table_name)
        self._put = self.sql(_PUT)
        self._drop = self.sql(_DROP)
        self._get = self.sql(_GET)
        self._pages: dict[tuple[bool, bool, bool], str] = {}

    def put(
        self,
        kind: str,
        doc_id: UUID,
        owner: str,
        parent: str,
        document: bytes,
        tracking: Tracking,
    ) -> None:
        row = (kind, self.database.bind_uuid(doc_id), owner, parent, tracking.notification_id)
        with self._writing() as cursor:
            self._track(cursor, tracking)
            cursor.execute(self._put, (*row, document.decode()))

    def drop(self, kind: str, doc_id: UUID, tracking: Tracking) -> None:
        with self._writing() as cursor:
            self._track(cursor, tracking)
            cursor.execute(self._drop, (kind, self.database.bind_uuid(doc_id)))

    def get(self, kind: str, doc_id: UUID) -> bytes | None:
        with self._reading() as cursor:
            row = cursor.fetch_one(self._get, (kind, self.database.bind_uuid(doc_id)))
        return None if row is None else str(row["document"]).encode()

    def page(
        self,
        kind: str,
        owner: str | None,
        parent: str | None,
        before_position: int | None,
        limit: int,
    ) -> list[tuple[int, bytes]]:
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        used = (owner is not None, parent is not None, before_position is not None)
        statement = self._pages.get(used)
        if statement is None:
            conditions = ("owner = ?", "parent = ?", "position < ?")
            filters = "".join(f" AND {c}" for c, on in zip(conditions, used, strict=True) if on)
            statement = self._pages[used] = self.sql(_PAGE, filters=filters)
        values = [v for v in (owner, parent, before_position) if v is not None]
        with self._reading() as cursor:
            rows = cursor.fetch_all(statement, (kind, *values, limit))
        return [(row["position"], str(row["document"]).encode()) for row in rows]
