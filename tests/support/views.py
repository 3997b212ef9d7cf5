"""Read models for tests: in memory (SQLite `:memory:` through the same SQL), or on the
shared PostgreSQL test server with a small pool."""

from __future__ import annotations

from adapters.views.factory import open_ledger_view, open_payments_view, open_view_database
from adapters.views.ledger_view import SqlLedgerView
from adapters.views.payments_view import SqlPaymentsView
from adapters.views.postgres import PostgresConnection
from tests.support.services import POSTGRES

APP = "payledger"


def memory_ledger_view(application_name: str = APP) -> SqlLedgerView:
    """A ledger view in a private in-memory database."""
    return open_ledger_view(open_view_database("memory"), application_name=application_name)


def memory_payments_view(application_name: str = APP) -> SqlPaymentsView:
    """A payments view in a private in-memory database."""
    return open_payments_view(open_view_database("memory"), application_name=application_name)


def postgres_connection(schema: str) -> PostgresConnection:
    """The test server, in `schema`. Two connections (and two more at most): the wait_for
    tests write from a thread while the test polls."""
    return PostgresConnection(
        host=POSTGRES.host,
        port=POSTGRES.port,
        user=POSTGRES.user,
        password=POSTGRES.password,
        dbname=POSTGRES.dbname,
        schema=schema,
        pool_size=2,
        max_overflow=2,
        connect_timeout_s=5.0,
        pool_open_timeout_s=10.0,
    )
