"""Where the read models and trackers live: one database each, on the configured backend."""

from __future__ import annotations

from adapters.eventstore.config import PostgresTarget
from adapters.views.factory import open_view_database
from adapters.views.postgres import PostgresConnection
from adapters.views.sql import ViewDatabase
from entrypoints.settings import DatabaseSettings, Settings

# Each read model (and each tracker) has a pool of its own: one connection kept, a few more
# under load.
VIEW_POOL_SIZE = 1
VIEW_POOL_OVERFLOW = 3


def postgres_target(database: DatabaseSettings) -> PostgresTarget:
    params = database.postgres_params()
    return PostgresTarget(
        params["host"],
        params["port"],
        params["user"],
        params["password"],
        params["dbname"],
        database.schema,
    )


def views_database(settings: Settings) -> ViewDatabase:
    """A database of its own for one read model or tracker (it closes it)."""
    database = settings.database
    if database.backend != "postgres":
        path = database.sqlite_path.with_name("payledger-views.sqlite3")
        return open_view_database(database.backend, sqlite_path=path)
    target = postgres_target(database)
    connection = PostgresConnection(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        dbname=target.dbname,
        schema=target.schema,
        pool_size=VIEW_POOL_SIZE,
        max_overflow=VIEW_POOL_OVERFLOW,
        connect_timeout_s=database.wait_timeout_s,
    )
    return open_view_database("postgres", postgres=connection)
