"""Composition of the adapters: the only place that knows which backend is in use."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import resolve_topic

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


# Read models and trackers by name: (memory, SQLite, PostgreSQL) classes, imported lazily.
RECORDERS = {
    "ledger": (
        "adapters.views.memory_ledger_view:MemoryLedgerView",
        "adapters.views.sqlite_ledger_view:SQLiteLedgerView",
        "adapters.views.postgres_ledger_view:PostgresLedgerView",
    ),
    "payments": (
        "adapters.views.memory_payments_view:MemoryPaymentsView",
        "adapters.views.sqlite_payments_view:SQLitePaymentsView",
        "adapters.views.postgres_payments_view:PostgresPaymentsView",
    ),
}


def _views_datastore(settings: Settings) -> PostgresDatastore | SQLiteDatastore:
    if settings.backend == "sqlite":
        path: Path = settings.sqlite_path.with_name("payledger-views.sqlite3")
        return SQLiteDatastore(str(path), lock_timeout=10)
    params = settings.postgres_params()
    return PostgresDatastore(
        dbname=params["dbname"],
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        schema=settings.database_schema,
        pool_size=2,
        max_overflow=4,
        connect_timeout=5,
    )


def build_recorder(settings: Settings, name: str, create_table: bool = True) -> Any:
    """The read model (or tracker) `name` on the configured backend."""
    memory, sqlite, postgres = RECORDERS[name]
    backend = settings.backend
    if backend == "memory":
        recorder = resolve_topic(memory)(application_name=Ledger.name)
    else:
        cls = resolve_topic(sqlite if backend == "sqlite" else postgres)
        recorder = cls(_views_datastore(settings), application_name=Ledger.name)
    if create_table and hasattr(recorder, "create_table"):
        recorder.create_table()
    return recorder


def build_view(settings: Settings, create_table: bool = True) -> LedgerViewRecorder:
    """The ledger read model on the configured backend."""
    view: LedgerViewRecorder = build_recorder(settings, "ledger", create_table)
    return view


def build_processor_tracker(settings: Settings, create_table: bool = True) -> TrackingRecorder:
    """Where the payment processor records how far it got in the log."""
    if settings.backend == "memory":
        return POPOTrackingRecorder()
    tracker: TrackingRecorder
    if settings.backend == "sqlite":
        datastore = _views_datastore(settings)
        assert isinstance(datastore, SQLiteDatastore)
        tracker = SQLiteTrackingRecorder(datastore)
    else:
        postgres = _views_datastore(settings)
        assert isinstance(postgres, PostgresDatastore)
        tracker = PostgresTrackingRecorder(
            postgres, tracking_table_name="payment_processor_tracking"
        )
    if create_table:
        tracker.create_table()
    return tracker


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
        for name in RECORDERS:
            build_recorder(settings, name, create_table=True)
        build_processor_tracker(settings, create_table=True)
        return
    from adapters.postgres_schema import migration_lock

    with migration_lock(settings.postgres_params(), settings.database_schema):
        build_ledger(settings, create_table=True).close()
        for name in RECORDERS:
            build_recorder(settings, name, create_table=True)
        build_processor_tracker(settings, create_table=True)
