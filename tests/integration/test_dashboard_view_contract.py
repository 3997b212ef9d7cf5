"""The read-model queries the dashboard adds, on every backend (in memory, SQLite file,
PostgreSQL): payment status counts per interval of creation time, and wallet totals per
currency."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from adapters.views.factory import open_ledger_view, open_payments_view, open_view_database
from adapters.views.sql import ViewDatabase
from application.ports.views import STATUS_COUNT_INTERVALS_MAX
from application.results_dashboard import WalletTotals
from domain.payment import FAILED, PROCESSING, SUCCESS
from tests.support.services import postgres_schema
from tests.support.views import postgres_connection

pytestmark = pytest.mark.integration

APP = "payledger"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
Databases = Callable[[], AbstractContextManager[ViewDatabase]]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Databases:
    @contextmanager
    def opened() -> Iterator[ViewDatabase]:
        if request.param == "memory":
            yield open_view_database("memory")
        elif request.param == "sqlite":
            yield open_view_database("sqlite", sqlite_path=tmp_path / "views.db")
        else:
            with postgres_schema() as schema:
                yield open_view_database("postgres", postgres=postgres_connection(schema))

    return opened


def _id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def test_status_counts_fall_in_half_open_intervals_of_creation_time(database: Databases) -> None:
    with database() as db:
        view = open_payments_view(db, application_name=APP)
        try:
            created = [T0 - HOUR, T0, T0 + 30 * timedelta(minutes=1), T0 + HOUR, T0 + 2 * HOUR]
            for n, at in enumerate(created, start=1):
                view.record_payment_created(
                    _id(n), "alice", "shop", 100, "USD", "card", at, Tracking(APP, n)
                )
            view.record_status_changed(_id(2), FAILED, "CARD_DECLINED", T0, Tracking(APP, 6))
            view.record_status_changed(_id(3), PROCESSING, None, T0, Tracking(APP, 7))
            view.record_payment_captured(_id(4), 100, T0, Tracking(APP, 8))

            counts = view.status_counts_between([T0, T0 + HOUR, T0 + 2 * HOUR])
            assert counts == [{FAILED: 1, PROCESSING: 1}, {SUCCESS: 1}]
            assert view.status_counts_between([T0 + 3 * HOUR, T0 + 4 * HOUR]) == [{}]
            assert view.status_counts_between([T0]) == []
        finally:
            view.close()


def test_status_counts_refuse_more_intervals_than_the_limit(database: Databases) -> None:
    with database() as db:
        view = open_payments_view(db, application_name=APP)
        try:
            bounds = [T0 + i * HOUR for i in range(STATUS_COUNT_INTERVALS_MAX + 2)]
            with pytest.raises(ValueError, match="at most"):
                view.status_counts_between(bounds)
        finally:
            view.close()


def test_wallet_totals_sum_balances_and_holds_per_currency(database: Databases) -> None:
    with database() as db:
        view = open_ledger_view(db, application_name=APP)
        try:
            assert view.wallet_totals() == []
            wallets = [("alice", "USD"), ("bob", "USD"), ("carol", "EUR")]
            for n, (customer, currency) in enumerate(wallets, start=1):
                view.record_wallet_opened(_id(n), customer, currency, 0, T0, Tracking(APP, n))
            view.record_wallet_entry(
                _id(1), 1, _id(90), "credit", 2500, 2500, "top-up", T0, Tracking(APP, 4)
            )
            view.record_wallet_entry(
                _id(2), 1, _id(91), "credit", 700, 700, "top-up", T0, Tracking(APP, 5)
            )
            view.record_wallet_entry(
                _id(3), 1, _id(92), "credit", 90, 90, "top-up", T0, Tracking(APP, 6)
            )
            view.record_held_change(_id(1), 2, 300, T0, Tracking(APP, 7))

            assert view.wallet_totals() == [
                WalletTotals("EUR", 1, 90, 0),
                WalletTotals("USD", 2, 3200, 300),
            ]
        finally:
            view.close()
