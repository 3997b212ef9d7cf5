"""Composition of the adapters: the only place that knows which backend is in use."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.persistence import TrackingRecorder

from adapters.views.factory import (
    open_ledger_view,
    open_payments_view,
    open_tracker,
    open_view_database,
)
from adapters.views.ledger_view import SqlLedgerView
from adapters.views.payments_view import SqlPaymentsView
from adapters.views.postgres import PostgresConnection
from adapters.views.sql import ViewDatabase
from adapters.views.tracking import SqlTrackingRecorder, SqlView
from application.gateway import PaymentGateway
from application.ledger import Ledger
from application.payment_processor import PaymentProcessor
from application.payments import PaymentRules, PaymentService
from application.ports import Clock, PaymentsView
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
        # version and is re-read (see Ledger.execute).
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


def _views_database(settings: Settings) -> ViewDatabase:
    """A database of its own for one read model or tracker, on the configured backend."""
    if settings.backend != "postgres":
        path: Path = settings.sqlite_path.with_name("payledger-views.sqlite3")
        return open_view_database(settings.backend, sqlite_path=path)
    params = settings.postgres_params()
    connection = PostgresConnection(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        dbname=params["dbname"],
        schema=settings.database_schema,
        pool_size=2,
        max_overflow=4,
        connect_timeout_s=5,
    )
    return open_view_database("postgres", postgres=connection)


def _create_tables(settings: Settings, create_table: bool) -> bool:
    # An in-memory database starts empty whatever the caller expects.
    return create_table or settings.backend == "memory"


def build_view(settings: Settings, create_table: bool = True) -> SqlLedgerView:
    """The ledger read model on the configured backend."""
    return open_ledger_view(
        _views_database(settings),
        application_name=Ledger.name,
        create_table=_create_tables(settings, create_table),
    )


def build_payments_view(settings: Settings, create_table: bool = True) -> SqlPaymentsView:
    """The payments read model on the configured backend."""
    return open_payments_view(
        _views_database(settings),
        application_name=Ledger.name,
        create_table=_create_tables(settings, create_table),
    )


# Read models by name (`payledger projections rebuild NAME`).
RECORDERS: dict[str, Callable[[Settings, bool], SqlView]] = {
    "ledger": build_view,
    "payments": build_payments_view,
}


def build_recorder(settings: Settings, name: str, create_table: bool = True) -> Any:
    """The read model `name` on the configured backend."""
    return RECORDERS[name](settings, create_table)


def build_processor_tracker(settings: Settings, create_table: bool = True) -> SqlTrackingRecorder:
    """Where the payment processor records how far it got in the log. On SQLite it used to
    be the library's `tracking` table: its position is taken over once."""
    return open_tracker(
        _views_database(settings),
        "payment_processor_tracking",
        create_table=_create_tables(settings, create_table),
        adopt_from="tracking" if settings.backend == "sqlite" else None,
    )


def build_gateway(settings: Settings) -> PaymentGateway:
    """The simulated legacy gateway by default; Stripe when configured."""
    if settings.gateway == "stripe":
        from adapters.gateways.stripe_gateway import StripePaymentGateway

        return StripePaymentGateway(
            api_key=settings.stripe_api_key, api_base=settings.stripe_api_base or None
        )
    if settings.gateway != "simulated":
        raise ValueError(f"PAYLEDGER_GATEWAY must be simulated or stripe, not {settings.gateway!r}")
    from adapters.gateways.simulated import SimulatedPaymentGateway

    return SimulatedPaymentGateway(
        failure_rate=settings.failure_rate,
        seed=settings.gateway_seed,
        latency_s=settings.gateway_latency_ms / 1000,
        checkout_base_url=f"{settings.base_url}/simulated-gateway",
    )


def payment_rules(settings: Settings) -> PaymentRules:
    return PaymentRules(
        fraud_threshold=Decimal(settings.fraud_threshold), retries_max=settings.max_retries
    )


def build_projection(view: LedgerViewRecorder) -> LedgerProjection:
    return LedgerProjection(view=view)


def build_runner(ledger: Ledger, view: LedgerViewRecorder) -> ProjectionRunner:
    return ProjectionRunner(ledger, build_projection(view))


def build_payments_runner(ledger: Ledger, view: Any) -> ProjectionRunner:
    from application.payment_projection import PaymentsProjection

    return ProjectionRunner(ledger, PaymentsProjection(view=view))


def build_processor_runner(
    ledger: Ledger,
    service: PaymentService,
    tracker: TrackingRecorder,
    payments_view: PaymentsView | None = None,
) -> ProjectionRunner:
    """The payment processor; payments left PROCESSING by an earlier run (an unknown
    gateway outcome) are found in the payments view and reconciled too."""
    processor = PaymentProcessor(tracker, service, payments_view)
    return ProjectionRunner(ledger, processor, batch_size=50, on_idle=processor.maybe_reconcile)


def migrate(settings: Settings) -> None:
    """Create tables once, under a lock on PostgreSQL, before servers and workers start."""
    if settings.backend == "memory":
        return
    if settings.backend == "sqlite":
        build_ledger(settings, create_table=True).close()
        _create_view_tables(settings)
        return
    from adapters.postgres_schema import migration_lock

    with migration_lock(settings.postgres_params(), settings.database_schema):
        build_ledger(settings, create_table=True).close()
        _create_view_tables(settings)


def _create_view_tables(settings: Settings) -> None:
    for build in RECORDERS.values():
        build(settings, True).close()
    build_processor_tracker(settings, create_table=True).close()
