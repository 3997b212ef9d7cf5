"""Failing fast when PostgreSQL is unreachable, instead of retrying for half a minute.

The library wraps each recorder call in ``@retry(..., max_attempts=10, wait=0.2)`` and each
attempt may wait for a pooled connection; during an outage a call then hangs for ~30-40 s.
Here a call is tried at most twice: once more when its connection failed, after the pool's
idle connections were checked and the dead ones dropped (after a server restart every pooled
connection is stale: none of them may reach the retry), and never again when no connection
came from the pool in time (the database is down or saturated: waiting longer helps nobody).
Checking only after a failure costs nothing on the way of every call, unlike a pre-ping
(which cost about a fifth of the payments settled per second, measured with bench/payments.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg_pool import PoolTimeout

F = TypeVar("F", bound=Callable[..., Any])

RETRYABLE = (InterfaceError, OperationalError)


def unreachable(error: BaseException) -> bool:
    """Whether `error` means no connection could be had in time."""
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__  # type: ignore[assignment]
    return False


def once_more(method: F) -> F:
    """`method` (without the library's own retries, if it has them) tried at most twice."""
    raw: Callable[..., Any] = getattr(method, "__wrapped__", method)

    @functools.wraps(raw)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return raw(*args, **kwargs)
        except RETRYABLE as error:
            if unreachable(error):
                raise
            drop_dead_connections(args[0] if args else None)
        return raw(*args, **kwargs)

    return call  # type: ignore[return-value]


def drop_dead_connections(recorder: object) -> None:
    """Check the idle connections of the recorder's pool; the dead ones are replaced."""
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):  # best effort: the retry says how it went
            pool.check()


class FailFastPostgresAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (snapshots) with bounded retries."""

    insert_events = once_more(PostgresAggregateRecorder.insert_events)
    select_events = once_more(PostgresAggregateRecorder.select_events)
