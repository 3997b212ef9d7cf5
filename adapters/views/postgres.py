"""The PostgreSQL dialect of the read models: tables in one schema, a small pool."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.postgres import PostgresDatastore

from adapters.views.sql import Params, Row, RowsStatement, SqlCursor, ViewDatabase, quote

LIBPQ_CONNECT_TIMEOUT_S = 5

if TYPE_CHECKING:
    from psycopg import Cursor
    from psycopg.rows import DictRow


class _PostgresCursor(SqlCursor):
    def __init__(self, cursor: Cursor[DictRow]) -> None:
        self._cursor = cursor

    # Every statement is one of a few constant texts: prepared once per connection.

    def execute(self, statement: str, params: Params = ()) -> None:
        self._cursor.execute(statement, params, prepare=True)

    def fetch_one(self, statement: str, params: Params = ()) -> Row | None:
        self._cursor.execute(statement, params, prepare=True)
        return self._cursor.fetchone()

    def fetch_all(self, statement: str, params: Params = ()) -> list[Row]:
        self._cursor.execute(statement, params, prepare=True)
        return list(self._cursor.fetchall())


class _ArrayRowsStatement(RowsStatement):
    """`{rows}` as `unnest()` of one array parameter per column: one statement text, one
    round trip and one plan execution whatever the number of rows."""

    def __init__(self, statement: str, after: Params) -> None:
        self._statement = statement
        self._after = tuple(after)

    def execute(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> None:
        cursor.execute(self._statement, self._params(rows))

    def fetch_all(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> list[Row]:
        return cursor.fetch_all(self._statement, self._params(rows))

    def _params(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        return [*map(list, zip(*rows, strict=True)), *self._after]


@dataclass(frozen=True)
class PostgresConnection:
    """Where a PostgreSQL view database is, and how many connections it may hold."""

    host: str
    port: str | int
    user: str
    password: str
    dbname: str
    schema: str = "public"
    pool_size: int = 2
    max_overflow: int = 4
    connect_timeout_s: float = 5.0  # the pool's wait for a connection (the library's name)
    pool_open_timeout_s: float | None = None
    # Check a pooled connection before handing it out: after a server restart a stale one
    # is replaced instead of failing the read.
    pre_ping: bool = True


class PostgresViewDatabase(ViewDatabase):
    """PostgreSQL: uuid, timestamptz and bigint columns; `%s` placeholders; tables in the
    datastore's schema; reads in autocommit (one statement each, one round trip)."""

    types: ClassVar[Mapping[str, str]] = {
        "uuid": "uuid",
        "timestamp": "timestamptz",
        "bigint": "bigint",
        "int": "int",
        "text": "text",
        "without_rowid": "",
    }

    datastore: PostgresDatastore

    def __init__(self, connection: PostgresConnection) -> None:
        self.datastore = PostgresDatastore(
            dbname=connection.dbname,
            host=connection.host,
            port=connection.port,
            user=connection.user,
            password=connection.password,
            schema=connection.schema,
            pool_size=connection.pool_size,
            max_overflow=connection.max_overflow,
            connect_timeout=connection.connect_timeout_s,
            pool_open_timeout=connection.pool_open_timeout_s,
            pre_ping=connection.pre_ping,
        )
        pool_kwargs = self.datastore.pool.kwargs
        if isinstance(pool_kwargs, dict):  # the pool opens later: bound its connects too
            pool_kwargs.setdefault("connect_timeout", LIBPQ_CONNECT_TIMEOUT_S)
            pool_kwargs.setdefault("application_name", "payledger-views")
        self.schema = self.datastore.schema

    def sql(self, template: str, names: Mapping[str, str]) -> str:
        # Templates hold no '?' but placeholders (no literal or name contains one).
        return super().sql(template, names).replace("?", "%s")

    def table(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    def rows_statement(
        self, template: str, types: Sequence[str], names: Mapping[str, str], after: Params = ()
    ) -> RowsStatement:
        # Arrays go in binary (`%b`): psycopg dumps a list several times faster so.
        arrays = ", ".join(f"CAST(%b AS {self.types[name]}[])" for name in types)
        rows = self.sql("SELECT * FROM unnest({arrays})", {"arrays": arrays})
        return _ArrayRowsStatement(self.sql(template, {**names, "rows": rows}), after)

    def _wrap(self, cursor: Cursor[DictRow]) -> SqlCursor:
        return _PostgresCursor(cursor)

    # psycopg adapts UUID and datetime both ways: the base class's conversions suffice.

    @contextmanager
    def reading(self) -> Iterator[SqlCursor]:
        # The library's datastore maps psycopg errors for us; its connections autocommit.
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            yield _PostgresCursor(cursor)

    def table_exists(self, cursor: SqlCursor, name: str) -> bool:
        found = cursor.fetch_one("SELECT to_regclass(%s) AS found", (self.table(name),))
        return found is not None and found["found"] is not None
