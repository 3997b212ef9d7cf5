"""The relay's position in the log and its lease, in one row of a table on a `ViewDatabase`.

One row per stream: `(stream, position, holder, lease_until_ms)`. `acquire` is one upsert
that takes the lease when it is free, expired or already ours (the row lock serializes
replicas on PostgreSQL, the write lock on SQLite); `advance` moves the position only where
the holder is still the caller. A replica that lost its lease (paused past it, say) can no
longer move the position: it stops, and whatever it sent meanwhile carries ids the stream
already has. The lease is measured with this machine's clock (`time.time()`): replicas on
several hosts need clocks that agree to well within the lease.
"""

from __future__ import annotations

import time

from adapters.views.sql import ViewDatabase

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {table} (stream {text}, position {bigint} NOT NULL, "
    "holder {text} NOT NULL, lease_until_ms {bigint} NOT NULL, PRIMARY KEY (stream))"
    "{without_rowid}"
)
_ACQUIRE = (
    "INSERT INTO {table} AS t (stream, position, holder, lease_until_ms) VALUES (?, 0, ?, ?) "
    "ON CONFLICT (stream) DO UPDATE SET holder = excluded.holder, "
    "lease_until_ms = excluded.lease_until_ms "
    "WHERE t.holder = excluded.holder OR t.lease_until_ms < ? RETURNING position"
)
_ADVANCE = (
    "UPDATE {table} SET position = ?, lease_until_ms = ? "
    "WHERE stream = ? AND holder = ? AND position <= ? RETURNING position"
)
_RELEASE = "UPDATE {table} SET lease_until_ms = 0 WHERE stream = ? AND holder = ?"
_SELECT = "SELECT position FROM {table} WHERE stream = ?"


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqlRelayCheckpoint:
    """Implements `application.ports.event_publisher.RelayCheckpoint` for one stream; owns
    its database and closes it in `close()`."""

    def __init__(self, database: ViewDatabase, stream: str, table_name: str) -> None:
        self.database = database
        self.stream = stream
        names = {"table": database.table(table_name)}
        self._create = database.sql(_CREATE, names)
        self._acquire = database.sql(_ACQUIRE, names)
        self._advance = database.sql(_ADVANCE, names)
        self._release = database.sql(_RELEASE, names)
        self._select = database.sql(_SELECT, names)

    def create_table(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(self._create)

    def acquire(self, holder: str, lease_s: float) -> int | None:
        now_ms = _now_ms()
        until_ms = now_ms + int(lease_s * 1000)
        with self.database.transaction() as cursor:
            row = cursor.fetch_one(self._acquire, (self.stream, holder, until_ms, now_ms))
        return None if row is None else int(row["position"])

    def advance(self, holder: str, position: int, lease_s: float) -> bool:
        until_ms = _now_ms() + int(lease_s * 1000)
        params = (position, until_ms, self.stream, holder, position)
        with self.database.transaction() as cursor:
            row = cursor.fetch_one(self._advance, params)
        return row is not None

    def release(self, holder: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(self._release, (self.stream, holder))

    def position(self) -> int | None:
        with self.database.reading() as cursor:
            row = cursor.fetch_one(self._select, (self.stream,))
        return None if row is None or not row["position"] else int(row["position"])

    def max_tracking_id(self, application_name: str) -> int | None:
        """The stream's position (one relay follows one application's log)."""
        return self.position()

    def close(self) -> None:
        self.database.close()
