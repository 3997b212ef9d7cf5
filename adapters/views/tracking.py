"""Tracking on a `ViewDatabase`: how far in the log a view (or a process) has got.

Each recorder has its own tracking table, one row per application (single-row tracking, as
the library's recorders keep it, with the library's `__migration__` marker so either can
open the table). Recording a position upserts that row only if the position is newer: a
repeated or older position raises `IntegrityError`, and since a view writes its rows and
the position in one transaction, the rows roll back with it. That is exactly-once.

`SqlView` adds what every read model shares: batches (many events in one transaction),
`position()`, `wait_for()` and `reset()`. A read model subclasses it and adds its tables.
A read model may also keep a batch's changes in memory and write them when the batch ends,
in a few multi-row statements instead of some per event (`_recording()`, `_flush()`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from adapters.views.sql import SqlCursor, ViewDatabase

POLL_DELAY_MIN_S = 0.005
MIGRATION_MARKER = Tracking("__migration__", 1)  # what the library's recorders look for

_CREATE_TRACKING = (
    "CREATE TABLE IF NOT EXISTS {tracking} (application_name {text}, "
    "notification_id {bigint}, PRIMARY KEY (application_name)){without_rowid}"
)
# The row is locked by the upsert: a second writer of the same position waits for the first
# to commit, then finds nothing newer to write, and fails.
_INSERT_TRACKING = (
    "INSERT INTO {tracking} AS t (application_name, notification_id) VALUES (?, ?) "
    "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id "
    "WHERE t.notification_id < excluded.notification_id RETURNING notification_id"
)
_INSERT_MARKER = (
    "INSERT INTO {tracking} (application_name, notification_id) VALUES (?, ?) "
    "ON CONFLICT (application_name) DO NOTHING"
)
_ADOPT_TRACKING = (
    "INSERT INTO {tracking} (application_name, notification_id) "
    "SELECT application_name, MAX(notification_id) FROM {legacy} "
    "WHERE application_name <> ? GROUP BY application_name "
    "ON CONFLICT (application_name) DO NOTHING"
)
_SELECT_TRACKING = (
    "SELECT MAX(notification_id) AS position FROM {tracking} WHERE application_name = ?"
)
_DELETE_TRACKING = "DELETE FROM {tracking} WHERE application_name = ?"


class SqlTrackingRecorder(TrackingRecorder):
    """A tracking recorder and nothing else (a process manager's position, say), on any
    `ViewDatabase`; it owns the database and closes it in `close()`.

    `adopt_from` names an older tracking table whose positions are copied in once, when
    this table is still without them (so a renamed table keeps its positions).
    """

    def __init__(
        self,
        database: ViewDatabase,
        tracking_table_name: str,
        *,
        adopt_from: str | None = None,
    ) -> None:
        self.database = database
        self.tracking_table_name = tracking_table_name
        self._adopt_from = adopt_from
        self._names: dict[str, str] = {"tracking": database.table(tracking_table_name)}
        self._batch_state = threading.local()
        self._insert_tracking = self.sql(_INSERT_TRACKING)
        self._select_tracking = self.sql(_SELECT_TRACKING)
        self._delete_tracking = self.sql(_DELETE_TRACKING)

    def sql(self, template: str, **fragments: str) -> str:
        """A statement of this recorder's tables in its database's dialect; `fragments`
        are constant pieces of SQL (column lists, conditions), never values."""
        return self.database.sql(template, {**self._names, **fragments})

    def create_statements(self) -> list[str]:
        """What `create_table()` runs, in order (subclasses add their tables)."""
        return [self.sql(_CREATE_TRACKING)]

    def create_table(self) -> None:
        """Create the tables (and indexes) that are missing; safe to repeat."""
        with self.database.transaction() as cursor:
            for statement in self.create_statements():
                cursor.execute(statement)
            marker = MIGRATION_MARKER
            params = (marker.application_name, marker.notification_id)
            cursor.execute(self.sql(_INSERT_MARKER), params)
            legacy = self._adopt_from
            if legacy is not None and self.database.table_exists(cursor, legacy):
                names = {**self._names, "legacy": self.database.table(legacy)}
                adopt = self.database.sql(_ADOPT_TRACKING, names)
                cursor.execute(adopt, (marker.application_name,))

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record `tracking` (in the open batch, if any); an older or repeated position
        raises `IntegrityError`."""
        with self._writing() as cursor:
            self._track(cursor, tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        """The last position recorded for `application_name`, or None (inside a batch,
        as the batch would commit it)."""
        batched = self._batched_positions().get(application_name)
        if batched is not None:
            return batched[1]
        with self._reading() as cursor:
            row = cursor.fetch_one(self._select_tracking, (application_name,))
        return None if row is None else row["position"]

    def close(self) -> None:
        """Close the database's connections."""
        self.database.close()

    def _track(self, cursor: SqlCursor, tracking: Tracking) -> None:
        """Record `tracking` with the change made on `cursor`: it goes first in every write.
        In a batch, the first position of an application is written (which checks it and
        locks the row until the batch commits) and the later ones are only checked: the
        batch writes the last one when it ends, one statement instead of one per event."""
        name, position = tracking.application_name, tracking.notification_id
        batched = self._batched_positions()
        if name not in batched:
            self._write_position(cursor, name, position)
            if cursor is getattr(self._batch_state, "cursor", None):  # in a batch
                batched[name] = (position, position)
            return
        written, last = batched[name]
        if position <= last:
            raise IntegrityError(f"position {position} of {name} is not after {last}")
        batched[name] = (written, position)

    def _write_position(self, cursor: SqlCursor, name: str, position: int) -> None:
        # The upsert locks the application's row: a second writer of the same event waits
        # for the first to commit, then finds its position taken, and fails.
        if cursor.fetch_one(self._insert_tracking, (name, position)) is None:
            raise IntegrityError(
                f"position {position} of {name} is not after the tracked one "
                f"in {self.tracking_table_name}"
            )

    def _batched_positions(self) -> dict[str, tuple[int, int]]:
        """The open batch's (written, last) positions by application; empty outside."""
        positions: dict[str, tuple[int, int]] = getattr(self._batch_state, "positions", {})
        return positions

    def _writing(self) -> AbstractContextManager[SqlCursor]:
        """The open batch's cursor, or a new transaction."""
        return self._batch_cursor_or(self.database.transaction)

    def _reading(self) -> AbstractContextManager[SqlCursor]:
        """The open batch's cursor (it sees the batch's writes, and an in-memory
        database's writer is not kept waiting for its own reader), or a read."""
        return self._batch_cursor_or(self.database.reading)

    def _batch_cursor_or(
        self, open_cursor: Callable[[], AbstractContextManager[SqlCursor]]
    ) -> AbstractContextManager[SqlCursor]:
        cursor: SqlCursor | None = getattr(self._batch_state, "cursor", None)
        return open_cursor() if cursor is None else nullcontext(cursor)


class SqlView(SqlTrackingRecorder):
    """The base of every read model: its tables, its tracking, and what all views share.

    A subclass names its `tables` and `indexes` (template field -> SQL name) and the
    `create` templates of its schema; every `record_*` method writes its rows and calls
    `_track()` on the cursor of `_writing()`, so the change and its position commit together.
    """

    tables: ClassVar[Mapping[str, str]] = {}
    indexes: ClassVar[Mapping[str, str]] = {}
    create: ClassVar[tuple[str, ...]] = ()
    poll_delay_min_s = POLL_DELAY_MIN_S

    def __init__(
        self, database: ViewDatabase, application_name: str, tracking_table_name: str
    ) -> None:
        super().__init__(database, tracking_table_name)
        self.application_name = application_name
        self._names.update({field: database.table(name) for field, name in self.tables.items()})
        self._names.update({field: database.index(name) for field, name in self.indexes.items()})
        self.poll_delay_max_s = database.poll_delay_max_s
        self._reset_statements = [
            self.database.sql("DELETE FROM {table}", {"table": self._names[field]})
            for field in self.tables
        ]

    def create_statements(self) -> list[str]:
        return [*super().create_statements(), *(self.sql(template) for template in self.create)]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write everything done inside the block in one transaction, all or nothing, so
        exactly-once holds per batch as per event, at a fraction of the commits and of
        the tracking writes (re-entrant: an inner batch joins the outer one)."""
        if getattr(self._batch_state, "cursor", None) is not None:
            yield
            return
        with self.database.transaction() as cursor:
            state = self._batch_state
            state.cursor, state.positions, state.pending = cursor, {}, self._pending()
            try:
                yield
                self._write_pending(cursor)
                for name, (written, last) in state.positions.items():
                    if last != written:
                        self._write_position(cursor, name, last)
            finally:
                state.cursor, state.positions, state.pending = None, {}, None

    def _pending(self) -> Any:
        """A new, empty record of the changes a batch keeps in memory until it ends (None
        for a view that writes each change at once)."""
        return None

    def _flush(self, cursor: SqlCursor, pending: Any) -> None:
        """Write the changes kept in `pending` (as `_pending()` made it) on `cursor`; a
        change the view cannot apply raises, and the batch rolls back."""

    def _recording(self, tracking: Tracking) -> AbstractContextManager[Any]:
        """The open batch's pending changes, with `tracking` recorded: the caller adds its
        change to them and the batch writes it when it ends. Outside a batch the change is
        a batch of its own (one transaction, written at the end of the block)."""
        state = self._batch_state
        cursor: SqlCursor | None = getattr(state, "cursor", None)
        if cursor is None:
            return self._recording_alone(tracking)
        self._track(cursor, tracking)
        return nullcontext(state.pending)  # far cheaper, per event, than a generator's

    @contextmanager
    def _recording_alone(self, tracking: Tracking) -> Iterator[Any]:
        with self.batch(), self._recording(tracking) as pending:
            yield pending

    def _write_pending(self, cursor: SqlCursor) -> None:
        # Before anything reads through the batch's cursor, and when the batch ends.
        state = self._batch_state
        pending = getattr(state, "pending", None)
        if pending:
            state.pending = self._pending()
            self._flush(cursor, pending)

    def _reading(self) -> AbstractContextManager[SqlCursor]:
        # A read inside a batch sees the batch's changes: they are written first.
        cursor: SqlCursor | None = getattr(self._batch_state, "cursor", None)
        if cursor is not None:
            self._write_pending(cursor)
        return super()._reading()

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self._writing() as cursor:
            self._write_pending(cursor)  # in a batch: what it changed goes too
            for statement in self._reset_statements:
                cursor.execute(statement)
            cursor.execute(self._delete_tracking, (self.application_name,))

    def position(self) -> int | None:
        """The last log position the view has processed (None when empty)."""
        return self.max_tracking_id(self.application_name)

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Poll until the view has processed `position`; False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        delay_s = self.poll_delay_min_s
        while True:
            current = self.position()
            if current is not None and current >= position:
                return True
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return False
            time.sleep(min(delay_s, remaining_s))
            delay_s = min(delay_s * 2, self.poll_delay_max_s)
