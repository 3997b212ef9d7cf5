"""The `AuditLog` port over the event store's own tables: stored events, chain, checkpoints.

Reads large pages with one query each, straight from the stored events table (PostgreSQL:
binary rows, tuple rows; SQLite: the events table's rowids are the positions). The in-memory
store keeps no chain: its log is read through the library's notification API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from adapters.eventstore.postgres_recorder import CoalescingPostgresApplicationRecorder
from adapters.eventstore.sqlite_recorder import ChainedSQLiteApplicationRecorder
from application.ports.audit_log import AuditLog, Checkpoint, LinkRow, Row


class PostgresAuditLog:
    """The log of a `CoalescingPostgresApplicationRecorder`'s table, on its pool."""

    has_chain = True

    def __init__(self, recorder: CoalescingPostgresApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        s = Identifier(recorder.datastore.schema)
        table = recorder.events_table_name
        events, chain = Identifier(table), Identifier(f"{table}_chain")
        checkpoints = Identifier(f"{table}_checkpoints")
        self._head = SQL("SELECT COALESCE(MAX(notification_id), 0) FROM {}.{}").format(s, events)
        self._records = SQL(
            "SELECT notification_id, uuid_send(originator_id), originator_version, topic, state "
            "FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(s, events)
        self._links = SQL(
            "SELECT notification_id, link FROM {}.{} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(s, chain)
        self._checkpoints = SQL(
            "SELECT notification_id, link, signature, public_key FROM {}.{} "
            "ORDER BY notification_id"
        ).format(s, checkpoints)

    def _fetch(self, statement: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(statement, params, binary=True)
            return c.fetchall()

    def head(self) -> int:
        return int(self._fetch(self._head)[0][0])

    # No upper bound in SQL: with one, before the table is analyzed, the planner may sort the
    # whole range for every page (measured: 0.5 s a page at 200k events). Rows past `upto`
    # (one page at most) are dropped here.

    def records(self, after: int, upto: int | None, limit: int) -> Sequence[Row]:
        return _within(self._fetch(self._records, (after, limit)), upto)

    def links(self, after: int, upto: int | None, limit: int) -> Sequence[LinkRow]:
        return _within(self._fetch(self._links, (after, limit)), upto)

    def checkpoints(self) -> Sequence[Checkpoint]:
        return [
            Checkpoint(p, bytes(link), bytes(sig), bytes(key))
            for p, link, sig, key in self._fetch(self._checkpoints)
        ]


class SQLiteAuditLog:
    """The log of a `ChainedSQLiteApplicationRecorder`'s file."""

    has_chain = True

    def __init__(self, recorder: ChainedSQLiteApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        events = recorder.events_table_name
        self._head = f"SELECT COALESCE(MAX(rowid), 0) FROM {events}"  # noqa: S608 - our own table names
        self._records = (
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608 - our own table names
            f"FROM {events} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        self._links = (
            f"SELECT position, link FROM {recorder.chain_table} "  # noqa: S608 - our own table names
            "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
        )
        self._checkpoints = (
            "SELECT position, link, signature, public_key "  # noqa: S608 - our own table names
            f"FROM {recorder.checkpoints_table} ORDER BY position"
        )

    def _fetch(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return list(c.fetchall())

    def head(self) -> int:
        return int(self._fetch(self._head)[0][0])

    def records(self, after: int, upto: int | None, limit: int) -> Sequence[Row]:
        return [
            (r[0], bytes.fromhex(r[1]), r[2], r[3], r[4])
            for r in self._fetch(self._records, (after, _upto(upto), limit))
        ]

    def links(self, after: int, upto: int | None, limit: int) -> Sequence[LinkRow]:
        return [(r[0], bytes(r[1])) for r in self._fetch(self._links, (after, _upto(upto), limit))]

    def checkpoints(self) -> Sequence[Checkpoint]:
        return [
            Checkpoint(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]))
            for r in self._fetch(self._checkpoints)
        ]


class NotificationAuditLog:
    """Any other store (the in-memory one): the library's notifications, no chain."""

    has_chain = False

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def head(self) -> int:
        return int(self._recorder.max_notification_id() or 0)

    def records(self, after: int, upto: int | None, limit: int) -> Sequence[Row]:
        found = self._recorder.select_notifications(after + 1, limit, stop=upto)
        return [
            (n.id, UUID(str(n.originator_id)).bytes, n.originator_version, n.topic, n.state)
            for n in found
        ]

    def links(self, after: int, upto: int | None, limit: int) -> Sequence[LinkRow]:
        return []

    def checkpoints(self) -> Sequence[Checkpoint]:
        return []


_POSITION_MAX = 2**63 - 1


def _within(rows: list[Any], upto: int | None) -> list[Any]:
    """The rows whose position (first column) is at most `upto`."""
    if upto is None or not rows or rows[-1][0] <= upto:
        return rows
    return [row for row in rows if row[0] <= upto]


def _upto(upto: int | None) -> int:
    return _POSITION_MAX if upto is None else upto


def open_audit_log(recorder: object) -> AuditLog:
    """The audit log of an event store's application recorder."""
    if isinstance(recorder, CoalescingPostgresApplicationRecorder):
        return PostgresAuditLog(recorder)
    if isinstance(recorder, ChainedSQLiteApplicationRecorder):
        return SQLiteAuditLog(recorder)
    assert isinstance(recorder, ApplicationRecorder)
    return NotificationAuditLog(recorder)
