"""The PostgreSQL persistence of the event store: the library's factory, made to fail fast.

Selected with ``PERSISTENCE_MODULE=adapters.eventstore.postgres_factory:FailFastPostgresFactory``
(see `config.py`). Its recorders try a call at most twice (`fail_fast.py`), the application
recorder commits concurrent saves together (`postgres_recorder.py`), and new connections
give up connecting after `CONNECT_TIMEOUT_S` (the library passes no timeout to libpq).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresFactory

from adapters.eventstore.fail_fast import FailFastPostgresAggregateRecorder
from adapters.eventstore.postgres_recorder import CoalescingPostgresApplicationRecorder

CONNECT_TIMEOUT_S = 5
# A peer that vanished without closing (a network partition) fails a call within
# TCP_USER_TIMEOUT_MS instead of hanging until the kernel gives up (minutes); idle
# connections are probed by keepalives.
TCP_USER_TIMEOUT_MS = 10_000
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class FailFastPostgresFactory(PostgresFactory):
    """`PostgresFactory` with bounded retries and connect timeouts."""

    aggregate_recorder_class = FailFastPostgresAggregateRecorder
    application_recorder_class = CoalescingPostgresApplicationRecorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool_kwargs = self.datastore.pool.kwargs
        if isinstance(pool_kwargs, dict):  # the pool is not open yet: it connects later
            pool_kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
            pool_kwargs.setdefault("application_name", "payledger")
            pool_kwargs.setdefault("tcp_user_timeout", TCP_USER_TIMEOUT_MS)
            for key, value in KEEPALIVES.items():
                pool_kwargs.setdefault(key, value)
