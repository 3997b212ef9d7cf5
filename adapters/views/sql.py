"""The dialect layer of the read models: what differs between SQLite and PostgreSQL.

A read model writes its SQL once, as templates: `?` placeholders, `{name}` for its tables and
indexes, and `{uuid}`, `{timestamp}`, `{bigint}`, `{int}`, `{text}` and `{without_rowid}` for
column types and table options. A `ViewDatabase` turns a template into its dialect's SQL
(placeholders, quoted and schema-qualified identifiers, types), converts ids and times to and
from its storage, and hands out cursors: one transaction for writes, a read otherwise. The
two dialects are `SQLiteViewDatabase` (sqlite.py) and `PostgresViewDatabase` (postgres.py).

Both dialects share the rest: `INSERT ... ON CONFLICT ... DO UPDATE` upserts (with `excluded`
and a table alias), `RETURNING`, `CAST(... AS {bigint})`, `||`, `COALESCE`, `UNION ALL`.

Connections and pools stay the library's (`SQLiteDatastore`, `PostgresDatastore`): they map
database errors to `eventsourcing.persistence` errors (a unique key violated raises
`IntegrityError`) and, for an in-memory SQLite database, keep reads and writes apart.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

Row = Mapping[str, Any]
Params = Sequence[Any]

POLL_DELAY_MAX_S = 0.05
# Rows per multi-row VALUES statement: a batch's rows go out in chunks of these sizes
# (largest first), so a statement has a few texts whatever the batch holds, and stays far
# below the limit on parameters.
ROWS_PER_STATEMENT = (256, 64, 16, 4, 1)

# Names are constants or settings: checked, then quoted (never formatted from user input).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_aware(moment: datetime) -> None:
    """Refuse a naive datetime: it would be read in some local time zone, a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime without time zone: {moment!r}")


def quote(name: str) -> str:
    """`name` as a quoted SQL identifier, after checking it is a plain identifier."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"invalid SQL identifier: {name!r}")
    return f'"{name}"'


class SqlCursor(ABC):
    """One dialect's cursor, inside a transaction or a read: run a statement, fetch rows."""

    @abstractmethod
    def execute(self, statement: str, params: Params = ()) -> None:
        """Run a statement that returns no rows."""

    @abstractmethod
    def fetch_one(self, statement: str, params: Params = ()) -> Row | None:
        """Run a statement; its first row, or None."""

    @abstractmethod
    def fetch_all(self, statement: str, params: Params = ()) -> list[Row]:
        """Run a statement; all its rows."""


class ViewDatabase(ABC):
    """Where read models live: a library datastore and the dialect of its SQL."""

    types: ClassVar[Mapping[str, str]]
    datastore: SQLiteDatastore | PostgresDatastore
    poll_delay_max_s = POLL_DELAY_MAX_S

    def sql(self, template: str, names: Mapping[str, str]) -> str:
        """The statement `template` in this dialect; `names` maps `{name}` fields to
        identifiers quoted by `table()` or `index()`, or to constant SQL fragments."""
        if "%" in template:  # would have to be escaped for psycopg: keep templates free of it
            raise ValueError(f"'%' in an SQL template: {template!r}")
        return template.format(**self.types, **names)

    @abstractmethod
    def table(self, name: str) -> str:
        """A table's name, quoted (and qualified with its schema where there is one)."""

    def rows_statement(
        self, template: str, types: Sequence[str], names: Mapping[str, str], after: Params = ()
    ) -> RowsStatement:
        """A statement over many rows at once: `template`'s `{rows}` field is a query of
        rows whose columns have the `types` (fields of `types`: `uuid`, `bigint`...), usable
        after INSERT's column list or in a WITH clause; `after` are the values of the
        placeholders that follow it in the template. Here: multi-row VALUES lists."""

        def sql(rows: str) -> str:
            return self.sql(template, {**names, "rows": rows})

        return ValuesRowsStatement(sql, len(types), after)

    def index(self, name: str) -> str:
        """An index's name, quoted: an index lives in its table's schema."""
        return quote(name)

    # Values: ids and times as this database stores them.

    @staticmethod
    def bind_uuid(value: UUID) -> Any:
        """An id to store (as it is where the database has a uuid type)."""
        return value

    @staticmethod
    def read_uuid(value: Any) -> UUID:
        """A stored id."""
        return value  # type: ignore[no-any-return]

    @staticmethod
    def bind_time(value: datetime) -> Any:
        """An aware datetime to store (a naive one raises `ValueError`)."""
        check_aware(value)
        return value

    @staticmethod
    def read_time(value: Any) -> datetime:
        """A stored datetime, aware."""
        return value  # type: ignore[no-any-return]

    # Connections.

    @contextmanager
    def transaction(self) -> Iterator[SqlCursor]:
        """A cursor in a transaction that commits on a normal exit and rolls back on an
        exception (both datastores have this very method)."""
        with self.datastore.transaction(commit=True) as cursor:
            yield self._wrap(cursor)

    @abstractmethod
    def _wrap(self, cursor: Any) -> SqlCursor:
        """The library's cursor as an `SqlCursor`."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[SqlCursor]:
        """A cursor for reads (nothing it does is committed)."""

    @abstractmethod
    def table_exists(self, cursor: SqlCursor, name: str) -> bool:
        """Whether the table `name` exists (in this database's schema)."""

    def close(self) -> None:
        """Close the connections."""
        self.datastore.close()


class RowsStatement(ABC):
    """One statement over many rows at once, from a template whose `{rows}` field takes a
    query of the rows (see `ViewDatabase.rows_statement`)."""

    @abstractmethod
    def execute(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> None:
        """Run the statement over `rows`."""

    @abstractmethod
    def fetch_all(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> list[Row]:
        """Run the statement over `rows`; what it returned for all of them."""

    def update_every(
        self,
        cursor: SqlCursor,
        changed: Mapping[Any, Sequence[Any]],
        key: str,
        what: str,
        view: str,
    ) -> None:
        """Run an UPDATE ... RETURNING `key` over the `changed` rows (by key, each row's
        first value the key's bound form) and raise `LookupError` when one matched nothing:
        a change to a row the view never saw created means the view is incomplete, so the
        batch fails (and rolls back) rather than record the position and lose the change."""
        if not changed:
            return
        found = {row[key] for row in self.fetch_all(cursor, list(changed.values()))}
        if len(found) < len(changed):
            missing = next(k for k, row in changed.items() if row[0] not in found)
            raise LookupError(f"{what} {missing} is not in the {view}")


class ValuesRowsStatement(RowsStatement):
    """`{rows}` as a multi-row VALUES list, in chunks of `ROWS_PER_STATEMENT` rows."""

    def __init__(self, sql: Callable[[str], str], width: int, after: Params = ()) -> None:
        row = f"({', '.join(['?'] * width)})"
        self._texts = [
            (size, sql(f"VALUES {', '.join([row] * size)}")) for size in ROWS_PER_STATEMENT
        ]
        self._after = tuple(after)

    def execute(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> None:
        for statement, params in self._chunks(rows):
            cursor.execute(statement, params)

    def fetch_all(self, cursor: SqlCursor, rows: Sequence[Sequence[Any]]) -> list[Row]:
        returned: list[Row] = []
        for statement, params in self._chunks(rows):
            returned.extend(cursor.fetch_all(statement, params))
        return returned

    def _chunks(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[Any]]]:
        start, count = 0, len(rows)
        for size, statement in self._texts:
            while count - start >= size:
                chunk = rows[start : start + size]
                start += size
                yield statement, [*itertools.chain.from_iterable(chunk), *self._after]
