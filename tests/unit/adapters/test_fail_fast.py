"""Bounded retries of the event store's calls: once more after a failed connection (it may
have been stale), never after the pool gave no connection in time (the database is down)."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.utils import retry
from psycopg_pool import PoolTimeout

from adapters.eventstore.fail_fast import once_more, unreachable

pytestmark = pytest.mark.unit


class Pool:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.checks_at: list[int] = []

    def check(self) -> None:
        self.checks_at.append(self.store.calls)  # which call it came after


class Datastore:
    def __init__(self, store: Store) -> None:
        self.pool = Pool(store)


class Store:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.datastore = Datastore(self)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0)  # as the library
    def read(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "rows"

    bounded_read = once_more(read)


def pool_timeout() -> OperationalError:
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 2.00 sec")
        except PoolTimeout as error:
            raise OperationalError(str(error)) from error  # as the library's datastore maps it
    except OperationalError as mapped:
        return mapped


def test_a_failed_connection_is_tried_once_more_after_the_pool_dropped_dead_ones() -> None:
    store = Store(OperationalError("server closed the connection unexpectedly"))
    assert store.bounded_read() == "rows"
    assert store.calls == 2
    assert store.datastore.pool.checks_at == [1]  # between the failed call and the retry


def test_two_failures_in_a_row_give_up_instead_of_ten() -> None:
    store = Store(*(InterfaceError("connection is closed") for _ in range(5)))
    with pytest.raises(InterfaceError):
        store.bounded_read()
    assert store.calls == 2


def test_no_connection_in_time_is_not_retried() -> None:
    timeout = pool_timeout()
    assert unreachable(timeout)
    store = Store(timeout, timeout)
    with pytest.raises(OperationalError):
        store.bounded_read()
    assert store.calls == 1
    assert store.datastore.pool.checks_at == []


def test_the_library_alone_would_have_tried_ten_times() -> None:
    store = Store(*(OperationalError("down") for _ in range(20)))
    with pytest.raises(OperationalError):
        store.read()
    assert store.calls == 10
