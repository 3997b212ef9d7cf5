"""Servers for the end-to-end tests: one real process per test module and backend.

Module scope keeps each module's server apart (a module that hurts its server cannot break
the next module), while tests inside a module share it and use their own customer ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import RunningServer, running_server


@pytest.fixture(scope="module")
def pg_server() -> Iterator[RunningServer]:
    """`payledger serve` on PostgreSQL in a fresh schema (skipped when PostgreSQL is down,
    unless PAYLEDGER_REQUIRE_SERVICES=1)."""
    with running_server("postgres") as server:
        yield server


@pytest.fixture(scope="module")
def sqlite_server() -> Iterator[RunningServer]:
    """`payledger serve` on the embedded SQLite default in a fresh data directory."""
    with running_server("sqlite") as server:
        yield server


@pytest.fixture(scope="module")
def pg_peer(pg_server: RunningServer) -> Iterator[RunningServer]:
    """A second `payledger serve` process on `pg_server`'s schema, as `serve --workers 2` or
    two replicas would run. Its projections stay off (`pg_server` runs them): one writer per
    view. Commands racing through both processes meet only in the database, where the
    optimistic concurrency check, not an in-process lock, has to keep the ledger right."""
    with running_server(
        "postgres",
        shared_schema=pg_server.schema,
        extra_settings={"PAYLEDGER_PROJECTIONS_IN_PROCESS": "false"},
    ) as server:
        yield server
