"""Failing fast when PostgreSQL is unreachable, instead of retrying for half a minute.

The library wraps each recorder call in ``@retry(..., max_attempts=10, wait=0.2)`` and each
attempt may wait for a pooled connection; during an outage a call then hangs for ~30-40 s.
Here a call is tried at most twice: once more when its connection failed (it may have been
a stale one, though the pool also pre-pings), and never again when no connection came from
the pool in time (the database is down or saturated: waiting longer helps nobody).
"""

from __future__ import annotations

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
        return raw(*args, **kwargs)

    return call  # type: ignore[return-value]


class FailFastPostgresAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (snapshots) with bounded retries."""

    insert_events = once_more(PostgresAggregateRecorder.insert_events)
    select_events = once_more(PostgresAggregateRecorder.select_events)
