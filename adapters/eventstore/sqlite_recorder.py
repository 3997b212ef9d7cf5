"""The SQLite application recorder, with the hash chain written in the events' transaction.

Selected with ``APPLICATION_RECORDER_TOPIC=adapters.eventstore.sqlite_recorder:
ChainedSQLiteApplicationRecorder`` (see `config.py`). After the library's inserts the
transaction holds SQLite's write lock, so the chain head it reads is the last committed link.
Tables: `stored_events_chain(rowid, link)`, `stored_events_checkpoints(rowid, link, signature,
public_key)` (positions are the events table's rowids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from adapters.eventstore.hash_chain import ChainPolicy, Extension, extend, pair_ids

BACKFILL_PAGE = 10_000


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """`SQLiteApplicationRecorder` that links every event it inserts."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        # Named before the base constructor builds the create-table statements.
        self.chain_table = f"{events_table_name}_chain"
        self.checkpoints_table = f"{events_table_name}_checkpoints"
        super().__init__(datastore, events_table_name)
        self.chain_policy = ChainPolicy()  # the composition root sets a signer
        self._select_head = (
            f"SELECT position, link FROM {self.chain_table} ORDER BY position DESC LIMIT 1"  # noqa: S608 - our own table names
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} "
            "(position INTEGER PRIMARY KEY, link BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints_table} "
            "(position INTEGER PRIMARY KEY, link BLOB NOT NULL, signature BLOB NOT NULL, "
            "public_key BLOB NOT NULL)",
        ]

    def create_table(self) -> None:
        """Create the tables, then link any events recorded before the chain existed."""
        super().create_table()
        self.backfill_chain()

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            self._write(c, extend(self._head(c), pair_ids(ids, stored_events), self.chain_policy))
        return ids

    def _head(self, c: SQLiteCursor) -> tuple[int, bytes] | None:
        c.execute(self._select_head)
        row = c.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _write(self, c: SQLiteCursor, ext: Extension) -> None:
        if ext.links:
            c.executemany(
                f"INSERT INTO {self.chain_table} (position, link) VALUES (?, ?)",  # noqa: S608
                ext.links,
            )
        if ext.checkpoint is not None:
            c.execute(
                f"INSERT OR IGNORE INTO {self.checkpoints_table} "  # noqa: S608 - our own table names
                "(position, link, signature, public_key) VALUES (?, ?, ?, ?)",
                ext.checkpoint,
            )

    def backfill_chain(self) -> int:
        """Link stored events after the chain head; returns how many were linked."""
        linked = 0
        select = (
            f"SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608 - our own table names
            f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=True) as c:
            head = self._head(c)
            while True:
                c.execute(select, (head[0] if head else 0, BACKFILL_PAGE))
                rows = c.fetchall()
                if not rows:
                    break
                stored = [
                    (int(r[0]), StoredEvent(self.convert_originator_id(r[1]), r[2], r[3], r[4]))
                    for r in rows
                ]
                ext = extend(head, stored, self.chain_policy)
                self._write(c, ext)
                head = ext.links[-1]
                linked += len(rows)
        return linked
