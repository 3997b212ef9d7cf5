"""Typed constructors of the read models and trackers: what the composition root calls.

A database is opened per recorder (`open_view_database`) and handed to it; the recorder owns
it from then on and closes it in `close()`. `create_table=True` creates what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from adapters.views.ledger_view import SqlLedgerView
from adapters.views.payments_view import SqlPaymentsView
from adapters.views.postgres import PostgresConnection, PostgresViewDatabase
from adapters.views.sql import ViewDatabase
from adapters.views.sqlite import SQLiteViewDatabase
from adapters.views.tracking import SqlTrackingRecorder
from adapters.views.webhooks_store import SqlWebhookStore

DEFAULT_APPLICATION_NAME = "payledger"

R = TypeVar("R", bound=SqlTrackingRecorder)


def open_view_database(
    backend: str,
    *,
    sqlite_path: str | Path | None = None,
    postgres: PostgresConnection | None = None,
) -> ViewDatabase:
    """A database for one read model: a private in-memory SQLite database (`memory`), the
    SQLite file `sqlite_path` (`sqlite`), or PostgreSQL (`postgres`)."""
    if backend == "memory":
        return SQLiteViewDatabase.in_memory()
    if backend == "sqlite":
        if sqlite_path is None:
            raise ValueError("a SQLite view database needs sqlite_path")
        return SQLiteViewDatabase.file(sqlite_path)
    if backend == "postgres":
        if postgres is None:
            raise ValueError("a PostgreSQL view database needs its connection settings")
        return PostgresViewDatabase(postgres)
    raise ValueError(f"unknown view backend: {backend!r}")


def _opened(recorder: R, create_table: bool) -> R:
    if create_table:
        try:
            recorder.create_table()
        except BaseException:
            recorder.close()
            raise
    return recorder


def open_ledger_view(
    database: ViewDatabase,
    *,
    application_name: str = DEFAULT_APPLICATION_NAME,
    create_table: bool = True,
) -> SqlLedgerView:
    """The ledger read model (balances and statements) on `database`."""
    return _opened(SqlLedgerView(database, application_name), create_table)


def open_payments_view(
    database: ViewDatabase,
    *,
    application_name: str = DEFAULT_APPLICATION_NAME,
    create_table: bool = True,
) -> SqlPaymentsView:
    """The payments read model (list and summary) on `database`."""
    return _opened(SqlPaymentsView(database, application_name), create_table)


def open_tracker(
    database: ViewDatabase,
    tracking_table_name: str,
    *,
    create_table: bool = True,
    adopt_from: str | None = None,
) -> SqlTrackingRecorder:
    """A tracking-only recorder (a process manager's position) in its own table;
    `adopt_from` names an older tracking table to take positions from once."""
    tracker = SqlTrackingRecorder(database, tracking_table_name, adopt_from=adopt_from)
    return _opened(tracker, create_table)


def open_webhook_store(
    database: ViewDatabase,
    *,
    application_name: str = DEFAULT_APPLICATION_NAME,
    create_table: bool = True,
) -> SqlWebhookStore:
    """Webhook endpoints, deliveries and attempts (and the dispatcher's position)."""
    return _opened(SqlWebhookStore(database, application_name), create_table)
