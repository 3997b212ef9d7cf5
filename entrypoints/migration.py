"""Creating the tables, once, before servers and workers start (`payledger db migrate`).

Tables are created by resolving every store from a container built with `create_tables`;
on PostgreSQL this happens under an advisory lock (several processes starting at once would
otherwise race in CREATE TABLE statements), after the schema is created if missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from application.installment_scheduler import SchedulerTracker
from application.ledger import Ledger
from application.payment_processor import ProcessorTracker
from application.ports.documents import DocumentView
from application.ports.gateway import PaymentGateway
from application.ports.installments import InstallmentsView
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.ports.webhooks import WebhookStore
from entrypoints.container import build_sync_container
from entrypoints.container_people import RegistrationTracker
from entrypoints.container_relay import CheckpointKey
from entrypoints.settings import Settings

# Every store that owns tables: resolving it from a create_tables container creates them.
# (The simulated gateway keeps its checkout sessions in a table of its own.)
STORES: tuple[object, ...] = (
    Ledger,
    LedgerViewRecorder,
    PaymentsViewRecorder,
    ProcessorTracker,
    DocumentView,
    RegistrationTracker,
    PaymentGateway,
    InstallmentsView,
    SchedulerTracker,
    CheckpointKey,  # the NATS relay's position and lease (when NATS is configured)
    WebhookStore,
)


@contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    database = settings.database
    if database.backend != "postgres":
        with nullcontext():
            yield
        return
    from adapters.postgres_schema import migration_lock

    with migration_lock(database.postgres_params(), database.schema):
        yield


def migrate(settings: Settings) -> None:
    """Create the event store and read model tables if missing (safe to run again)."""
    if settings.database.backend == "memory":
        return
    with _exclusive(settings):
        container = build_sync_container(settings, create_tables=True)
        try:
            for store in STORES:
                container.get(store)
        finally:
            container.close()
