"""PostgreSQL housekeeping: the schema exists, and only one process migrates at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

# An arbitrary constant naming PayLedger's migration lock among advisory locks.
MIGRATION_LOCK_KEY = 7_305_118_204


def connect(
    params: Mapping[str, str], connect_timeout_s: int = 5, application_name: str = "payledger"
) -> psycopg.Connection[tuple[Any, ...]]:
    """A new autocommit connection of its own, outside every pool (the caller closes it);
    `params` as `DatabaseSettings.postgres_params()` gives them."""
    return psycopg.connect(
        host=params["host"],
        port=int(params["port"]),
        user=params["user"],
        password=params["password"] or None,
        dbname=params["dbname"],
        connect_timeout=connect_timeout_s,
        autocommit=True,
        application_name=application_name,
    )


@contextmanager
def migration_lock(
    params: dict[str, str], schema: str, connect_timeout_s: int = 5
) -> Iterator[None]:
    """Create the schema if missing and hold an advisory lock while tables are created.

    Several processes starting at once would otherwise race in CREATE TABLE statements.
    """
    with connect(params, connect_timeout_s, "payledger-migrate") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
