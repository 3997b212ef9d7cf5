"""Real services for integration tests: skip when absent, or fail when they are required.

Set `PAYLEDGER_REQUIRE_SERVICES=1` (as CI does) to turn a missing service into a failure
instead of a skip. The PostgreSQL target defaults to the local test database and can be
moved with `PAYLEDGER_TEST_POSTGRES_{HOST,PORT,USER,PASSWORD,DBNAME}`.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

CONNECT_TIMEOUT_S = 2


@dataclass(frozen=True)
class PostgresTarget:
    """Where the integration tests find PostgreSQL (trust auth: the password may be empty)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_env(cls) -> PostgresTarget:
        env = os.environ
        return cls(
            host=env.get("PAYLEDGER_TEST_POSTGRES_HOST", "127.0.0.1"),
            port=int(env.get("PAYLEDGER_TEST_POSTGRES_PORT", "5432")),
            user=env.get("PAYLEDGER_TEST_POSTGRES_USER", "postgres"),
            password=env.get("PAYLEDGER_TEST_POSTGRES_PASSWORD", ""),
            dbname=env.get("PAYLEDGER_TEST_POSTGRES_DBNAME", "test"),
        )

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """A new autocommit connection (the caller closes it)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            connect_timeout=CONNECT_TIMEOUT_S,
            autocommit=True,
        )

    def eventsourcing_env(self, schema: str) -> dict[str, str]:
        """The eventsourcing settings for an application stored in `schema`."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": schema,
            # Small pools: the server is shared (the library's defaults keep 5, up to 15).
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
        }


POSTGRES = PostgresTarget.from_env()


def services_required() -> bool:
    return os.environ.get("PAYLEDGER_REQUIRE_SERVICES") == "1"


@functools.cache
def _postgres_problem() -> str | None:
    # Probed once per test session: an unreachable server would otherwise cost a connect
    # timeout in every test.
    try:
        with POSTGRES.connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return (
            f"PostgreSQL unreachable at {POSTGRES.host}:{POSTGRES.port} "
            f"(db {POSTGRES.dbname}, user {POSTGRES.user}): {error}".strip()
        )
    return None


def require_postgres() -> None:
    """Skip the calling test if PostgreSQL is unreachable; fail instead when
    `PAYLEDGER_REQUIRE_SERVICES=1`."""
    problem = _postgres_problem()
    if problem is None:
        return
    if services_required():
        pytest.fail(f"{problem} (PAYLEDGER_REQUIRE_SERVICES=1)")
    pytest.skip(problem)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new uniquely named schema `t_<uuidhex>`, dropped with everything in it afterwards."""
    require_postgres()
    name = f"t_{uuid.uuid4().hex}"
    with POSTGRES.connect() as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(name)))
    try:
        yield name
    finally:
        with POSTGRES.connect() as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(name)))
