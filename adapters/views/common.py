"""Infrastructure the read models share: their position in the log, waiting for it, the
aware-datetime check, and a SQLite tracking recorder with a tracking table of its own.

Each view keeps its business SQL (tables, queries) to itself."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

POLL_DELAY_MIN_S = 0.005
POLL_DELAY_MAX_S = 0.05

# SQLite has no identifier quoting helper: table names are checked, then double-quoted.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class TrackedPosition:
    """A mixin for views: `position()` and `wait_for()` from the tracking recorder mixed in."""

    application_name: str
    max_tracking_id: Callable[[str], int | None]  # from the tracking recorder mixed in
    poll_delay_min_s = POLL_DELAY_MIN_S
    poll_delay_max_s = POLL_DELAY_MAX_S

    def position(self) -> int | None:
        """The last log position the view has processed (None when empty)."""
        position: int | None = self.max_tracking_id(self.application_name)
        return position

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


def check_aware(moment: datetime) -> None:
    """Refuse a naive datetime: it would be read in some local time zone, a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime without time zone: {moment!r}")


class SQLiteOwnTrackingRecorder(SQLiteTrackingRecorder):
    """A SQLite tracking recorder whose tracking lives in its own table.

    The library's SQLite tracking recorder always uses a table named `tracking`; this one
    uses `tracking_table_name`, like the PostgreSQL recorder. Subclasses add their own
    tables to `construct_create_table_statements()`.
    """

    def __init__(self, datastore: SQLiteDatastore, tracking_table_name: str, **kwargs: Any) -> None:
        if not _IDENTIFIER.fullmatch(tracking_table_name):
            raise ValueError(f"invalid tracking table name: {tracking_table_name!r}")
        # Set before the base constructor: it calls construct_create_table_statements().
        self.tracking_table_name = tracking_table_name
        super().__init__(datastore, **kwargs)
        statement = self._tracking_statement
        if self.datastore.single_row_tracking:
            self.insert_tracking_statement = statement(
                "INSERT INTO {tracking} VALUES (:application_name, :notification_id) "
                "ON CONFLICT (application_name) DO UPDATE "
                "SET notification_id = :notification_id "
                "WHERE {tracking}.notification_id < :notification_id "
                "RETURNING notification_id"
            )
        else:
            self.insert_tracking_statement = statement(
                "INSERT INTO {tracking} VALUES (:application_name, :notification_id)"
            )
        self.select_max_tracking_id_statement = statement(
            "SELECT MAX(notification_id) FROM {tracking} WHERE application_name = ?"
        )
        self._delete_tracking = statement("DELETE FROM {tracking} WHERE application_name = ?")

    def _tracking_statement(self, template: str, **names: str) -> str:
        """A statement from a constant template: only the checked tracking table name (and
        constant fragments) are substituted; values are always bound."""
        return template.format(tracking=f'"{self.tracking_table_name}"', **names)

    def construct_create_table_statements(self) -> list[str]:
        """The tracking table (not the library's `tracking` table)."""
        tracking_key = (
            "application_name"
            if self.datastore.single_row_tracking
            else "application_name, notification_id"
        )
        return [
            self._tracking_statement(
                "CREATE TABLE IF NOT EXISTS {tracking} ("
                "application_name TEXT, notification_id INTEGER, "
                "PRIMARY KEY ({tracking_key})) WITHOUT ROWID",
                tracking_key=tracking_key,
            )
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        # The base method's migration of a legacy multi-row `tracking` table names that
        # table; this tracking table has always been single-row when so configured, so it
        # only needs the migration marker the base `create_table()` looks for.
        for statement in self.create_table_statements:
            c.execute(statement)
        if self.datastore.single_row_tracking and not self.tracking_migration_previous:
            self._insert_tracking(c, Tracking(self.table_migration_identifier, 1))
            self.tracking_migration_current = 1
