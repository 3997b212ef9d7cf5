"""Typed factories of the read models and position trackers, per backend.

The composition root opens one `ViewStore` (the connections of the read models) and builds
each view from it; no class is looked up by name at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from adapters.eventstore.config import CONNECT_TIMEOUT_S, LOCK_TIMEOUT_S, PostgresTarget
from adapters.views.memory_ledger_view import MemoryLedgerView
from adapters.views.memory_payments_view import MemoryPaymentsView
from adapters.views.postgres_ledger_view import PostgresLedgerView
from adapters.views.postgres_payments_view import PostgresPaymentsView
from adapters.views.sqlite_ledger_view import SQLiteLedgerView
from adapters.views.sqlite_payments_view import SQLitePaymentsView
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder

VIEW_POOL_SIZE = 2
VIEW_POOL_OVERFLOW = 4


@dataclass
class ViewStore:
    """Where the read models live: a backend and its datastore (none in memory)."""

    backend: str
    datastore: PostgresDatastore | SQLiteDatastore | None

    def close(self) -> None:
        if self.datastore is not None:
            self.datastore.close()


def open_view_store(
    backend: str, *, sqlite_path: Path | None = None, postgres: PostgresTarget | None = None
) -> ViewStore:
    if backend == "memory":
        return ViewStore(backend, None)
    if backend == "sqlite":
        assert sqlite_path is not None
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return ViewStore(backend, SQLiteDatastore(str(sqlite_path), lock_timeout=LOCK_TIMEOUT_S))
    assert postgres is not None
    datastore = PostgresDatastore(
        dbname=postgres.dbname,
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        schema=postgres.schema,
        pool_size=VIEW_POOL_SIZE,
        max_overflow=VIEW_POOL_OVERFLOW,
        connect_timeout=CONNECT_TIMEOUT_S,
    )
    return ViewStore(backend, datastore)


def ledger_view(store: ViewStore, application_name: str, create_table: bool) -> LedgerViewRecorder:
    view: LedgerViewRecorder
    if isinstance(store.datastore, SQLiteDatastore):
        sqlite = SQLiteLedgerView(store.datastore, application_name=application_name)
        if create_table:
            sqlite.create_table()
        view = sqlite
    elif isinstance(store.datastore, PostgresDatastore):
        postgres = PostgresLedgerView(store.datastore, application_name=application_name)
        if create_table:
            postgres.create_table()
        view = postgres
    else:
        view = MemoryLedgerView(application_name=application_name)
    return view


def payments_view(
    store: ViewStore, application_name: str, create_table: bool
) -> PaymentsViewRecorder:
    view: PaymentsViewRecorder
    if isinstance(store.datastore, SQLiteDatastore):
        sqlite = SQLitePaymentsView(store.datastore, application_name=application_name)
        if create_table:
            sqlite.create_table()
        view = sqlite
    elif isinstance(store.datastore, PostgresDatastore):
        postgres = PostgresPaymentsView(store.datastore, application_name=application_name)
        if create_table:
            postgres.create_table()
        view = postgres
    else:
        view = MemoryPaymentsView(application_name=application_name)
    return view


def position_tracker(store: ViewStore, table_name: str, create_table: bool) -> TrackingRecorder:
    """Where a follower of the log (the payment processor...) records its position."""
    tracker: TrackingRecorder
    if isinstance(store.datastore, SQLiteDatastore):
        tracker = SQLiteTrackingRecorder(store.datastore)
    elif isinstance(store.datastore, PostgresDatastore):
        tracker = PostgresTrackingRecorder(store.datastore, tracking_table_name=table_name)
    else:
        return POPOTrackingRecorder()
    if create_table:
        tracker.create_table()
    return tracker
