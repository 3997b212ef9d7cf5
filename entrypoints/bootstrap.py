"""Composition of the adapters: the only place that knows which backend is in use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from application.ledger import Ledger
from application.ports import Clock
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection, LedgerViewRecorder
from domain.account import Account
from entrypoints.settings import Settings

MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
RECORDER_TOPIC = "adapters.eventstore.postgres_recorder:CoalescingPostgresApplicationRecorder"


def eventstore_env(settings: Settings, create_table: bool = True) -> dict[str, str]:
    """The eventsourcing library's configuration, derived from our settings only."""
    env = {
        "MAPPER_TOPIC": MAPPER_TOPIC,
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        # No read before each command: a stale cached aggregate fails its save on the
        # version and is re-read (see Ledger._execute).
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "CREATE_TABLE": "y" if create_table else "n",
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
    backend = settings.backend
    if backend == "memory":
        env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
    elif backend == "sqlite":
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(path),
            SQLITE_LOCK_TIMEOUT="10",
        )
    else:
        params = settings.postgres_params()
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            APPLICATION_RECORDER_TOPIC=RECORDER_TOPIC,
            POSTGRES_DBNAME=params["dbname"],
            POSTGRES_HOST=params["host"],
            POSTGRES_PORT=params["port"],
            POSTGRES_USER=params["user"],
            POSTGRES_PASSWORD=params["password"],
            POSTGRES_SCHEMA=settings.database_schema,
            POSTGRES_POOL_SIZE=str(settings.database_pool_size),
            POSTGRES_MAX_OVERFLOW=str(settings.database_pool_size),
            POSTGRES_CONNECT_TIMEOUT="5",
            POSTGRES_LOCK_TIMEOUT="10",
        )
    return env


def build_ledger(
    settings: Settings, clock: Clock | None = None, create_table: bool = True
) -> Ledger:
    ledger = Ledger(env=eventstore_env(settings, create_table), clock=clock)
    ledger.retries_max = settings.command_retries
    ledger.snapshotting_intervals = {Account: settings.snapshot_interval}  # type: ignore[misc]
    return ledger


def build_view(settings: Settings, create_table: bool = True) -> LedgerViewRecorder:
    """The ledger read model on the configured backend."""
    view: Any
    backend = settings.backend
    if backend == "memory":
        from adapters.views.memory_ledger_view import MemoryLedgerView

        view = MemoryLedgerView(application_name=Ledger.name)
    elif backend == "sqlite":
        from adapters.views.sqlite_ledger_view import SQLiteLedgerView

        path: Path = settings.sqlite_path.with_name("payledger-views.sqlite3")
        view = SQLiteLedgerView(
            SQLiteDatastore(str(path), lock_timeout=10), application_name=Ledger.name
        )
    else:
        from adapters.views.postgres_ledger_view import PostgresLedgerView

        params = settings.postgres_params()
        datastore = PostgresDatastore(
            dbname=params["dbname"],
            host=params["host"],
            port=params["port"],
            user=params["user"],
            password=params["password"],
            schema=settings.database_schema,
            pool_size=4,
            max_overflow=4,
            connect_timeout=5,
        )
        view = PostgresLedgerView(datastore, application_name=Ledger.name)
    if create_table and hasattr(view, "create_table"):
        view.create_table()
    result: LedgerViewRecorder = view
    return result


def build_projection(view: LedgerViewRecorder) -> LedgerProjection:
    return LedgerProjection(view=view)


def build_runner(ledger: Ledger, view: LedgerViewRecorder) -> ProjectionRunner:
    return ProjectionRunner(ledger, build_projection(view))


def migrate(settings: Settings) -> None:
    """Create tables once, under a lock on PostgreSQL, before servers and workers start."""
    if settings.backend == "memory":
        return
    if settings.backend == "sqlite":
        build_ledger(settings, create_table=True).close()
        build_view(settings, create_table=True)
        return
    from adapters.postgres_schema import migration_lock

    with migration_lock(settings.postgres_params(), settings.database_schema):
        build_ledger(settings, create_table=True).close()
        view = build_view(settings, create_table=True)
        close = getattr(view, "close", None)
        if close is not None:
            close()
