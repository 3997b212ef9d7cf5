"""The eventsourcing library's configuration for each backend, from plain values.

The library reads its settings from an environment mapping (`PERSISTENCE_MODULE`,
`POSTGRES_*`...). This module is the only place that spells those keys: the composition root
passes in what it read from PayLedger's own settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
POSTGRES_FACTORY_TOPIC = "adapters.eventstore.postgres_factory:FailFastPostgresFactory"
RECORDER_TOPIC = "adapters.eventstore.postgres_recorder:CoalescingPostgresApplicationRecorder"
SQLITE_RECORDER_TOPIC = "adapters.eventstore.sqlite_recorder:ChainedSQLiteApplicationRecorder"
CONNECT_TIMEOUT_S = 5
POOL_WAIT_TIMEOUT_S = 2
CONNECTION_MAX_AGE_S = 30 * 60
LOCK_TIMEOUT_S = 10


@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL event store lives."""

    host: str
    port: str
    user: str
    password: str
    dbname: str
    schema: str = "public"


def eventstore_env(
    backend: str,
    *,
    sqlite_path: Path | None = None,
    postgres: PostgresTarget | None = None,
    pool_size: int = 10,
    cache_size: int = 10_000,
    create_table: bool = True,
    pool_wait_timeout_s: int = POOL_WAIT_TIMEOUT_S,
) -> dict[str, str]:
    """The library's settings for `backend` (`postgres`, `sqlite` or `memory`).

    On PostgreSQL a call waits at most `pool_wait_timeout_s` for a pooled connection (the
    library names it POSTGRES_CONNECT_TIMEOUT; it is the pool's wait, not libpq's), pooled
    connections are renewed every `CONNECTION_MAX_AGE_S`, and the pool's idle connections
    are checked after a call failed on one (see `fail_fast.py`)."""
    env = {
        "MAPPER_TOPIC": MAPPER_TOPIC,
        "AGGREGATE_CACHE_MAXSIZE": str(cache_size),
        # No read before each command: a stale cached aggregate fails its save on the
        # version and is re-read (see application/runner.py).
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "CREATE_TABLE": "y" if create_table else "n",
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
    if backend == "memory":
        env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
    elif backend == "sqlite":
        assert sqlite_path is not None
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            APPLICATION_RECORDER_TOPIC=SQLITE_RECORDER_TOPIC,
            SQLITE_DBNAME=str(sqlite_path),
            SQLITE_LOCK_TIMEOUT=str(LOCK_TIMEOUT_S),
        )
    else:
        assert postgres is not None
        env.update(
            PERSISTENCE_MODULE=POSTGRES_FACTORY_TOPIC,
            APPLICATION_RECORDER_TOPIC=RECORDER_TOPIC,
            POSTGRES_DBNAME=postgres.dbname,
            POSTGRES_HOST=postgres.host,
            POSTGRES_PORT=postgres.port,
            POSTGRES_USER=postgres.user,
            POSTGRES_PASSWORD=postgres.password,
            POSTGRES_SCHEMA=postgres.schema,
            POSTGRES_POOL_SIZE=str(pool_size),
            POSTGRES_MAX_OVERFLOW=str(pool_size),
            POSTGRES_CONNECT_TIMEOUT=str(pool_wait_timeout_s),
            # No pre-ping: a failed call checks the pool and retries once (fail_fast.py).
            POSTGRES_PRE_PING="n",
            POSTGRES_CONN_MAX_AGE=str(CONNECTION_MAX_AGE_S),
            POSTGRES_LOCK_TIMEOUT=str(LOCK_TIMEOUT_S),
        )
    return env
