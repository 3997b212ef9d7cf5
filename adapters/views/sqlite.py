"""The SQLite dialect of the read models: a file, or a private database in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from adapters.views.sql import Params, Row, SqlCursor, ViewDatabase, check_aware, quote

MEMORY_POLL_DELAY_S = 0.005  # in memory a poll is cheap: poll every 5 ms, without backing off


class _SQLiteCursor(SqlCursor):
    def __init__(self, cursor: SQLiteCursor) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params = ()) -> None:
        self._cursor.execute(statement, params)

    def fetch_one(self, statement: str, params: Params = ()) -> Row | None:
        self._cursor.execute(statement, params)
        row: Row | None = self._cursor.fetchone()
        return row

    def fetch_all(self, statement: str, params: Params = ()) -> list[Row]:
        self._cursor.execute(statement, params)
        rows: list[Row] = self._cursor.fetchall()
        return rows


class SQLiteViewDatabase(ViewDatabase):
    """SQLite: ids as text, times as ISO 8601 text in UTC (fixed width, so text order is
    time order), integers as INTEGER (64 bits), clustered tables `WITHOUT ROWID`."""

    types: ClassVar[Mapping[str, str]] = {
        "uuid": "TEXT",
        "timestamp": "TEXT",
        "bigint": "INTEGER",
        "int": "INTEGER",
        "text": "TEXT",
        "without_rowid": " WITHOUT ROWID",
    }

    datastore: SQLiteDatastore

    def __init__(
        self,
        db_name: str,
        *,
        lock_timeout_s: int = 10,
        pool_size: int = 5,
        max_overflow: int = 10,
        in_memory: bool = False,
    ) -> None:
        self.datastore = SQLiteDatastore(
            db_name, lock_timeout=lock_timeout_s, pool_size=pool_size, max_overflow=max_overflow
        )
        if in_memory:
            self.poll_delay_max_s = MEMORY_POLL_DELAY_S

    @classmethod
    def file(cls, path: str | Path, *, lock_timeout_s: int = 10) -> SQLiteViewDatabase:
        """A database file (created if missing)."""
        return cls(str(path), lock_timeout_s=lock_timeout_s)

    @classmethod
    def in_memory(cls) -> SQLiteViewDatabase:
        """A new, private in-memory database, the same for every connection of its pool.

        A plain `:memory:` database is one per connection; a named shared-cache one is
        shared by the connections that name it, and lives while one of them is open (the
        pool keeps them open until `close()`). The library's pool sees `mode=memory` and
        keeps readers and writers apart, as a shared cache needs (it locks whole tables).
        """
        name = f"file:payledger-views-{uuid.uuid4().hex}?mode=memory&cache=shared"
        return cls(name, in_memory=True)

    def table(self, name: str) -> str:
        return quote(name)

    def _wrap(self, cursor: SQLiteCursor) -> SqlCursor:
        return _SQLiteCursor(cursor)

    @staticmethod
    def bind_uuid(value: UUID) -> str:
        return str(value)

    @staticmethod
    def read_uuid(value: str) -> UUID:
        return UUID(value)

    @staticmethod
    def bind_time(value: datetime) -> str:
        # UTC with a fixed width, so the stored text sorts like the instants it names.
        check_aware(value)
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    @staticmethod
    def read_time(value: str) -> datetime:
        return datetime.fromisoformat(value)

    @contextmanager
    def reading(self) -> Iterator[SqlCursor]:
        with self.datastore.transaction(commit=False) as cursor:
            yield _SQLiteCursor(cursor)

    def table_exists(self, cursor: SqlCursor, name: str) -> bool:
        found = cursor.fetch_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return found is not None
