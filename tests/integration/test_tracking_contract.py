"""One contract for the tracking-only recorder (the payment processor's position) on every
backend: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from adapters.views.factory import open_tracker, open_view_database
from adapters.views.sql import ViewDatabase
from tests.support.services import POSTGRES, postgres_schema
from tests.support.views import postgres_connection

pytestmark = pytest.mark.integration

APP = "payledger"
TABLE = "payment_processor_tracking"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ViewDatabase]:
    """A view database, closed by the tracker opened on it (or here, if none was)."""
    if request.param == "memory":
        database = open_view_database("memory")
        yield database
        database.close()
    elif request.param == "sqlite":
        database = open_view_database("sqlite", sqlite_path=tmp_path / "views.db")
        yield database
        database.close()
    else:
        with postgres_schema() as schema:
            database = open_view_database("postgres", postgres=postgres_connection(schema))
            try:
                yield database
            finally:
                database.close()


def test_records_positions_per_application(database: ViewDatabase) -> None:
    tracker = open_tracker(database, TABLE)

    assert tracker.max_tracking_id(APP) is None
    tracker.insert_tracking(Tracking(APP, 3))
    tracker.insert_tracking(Tracking(APP, 7))
    tracker.insert_tracking(Tracking("another_application", 1))

    assert tracker.max_tracking_id(APP) == 7
    assert tracker.max_tracking_id("another_application") == 1
    assert tracker.has_tracking_id(APP, 7) is True
    assert tracker.has_tracking_id(APP, 8) is False


@pytest.mark.parametrize("notification_id", [7, 6], ids=["repeated", "older"])
def test_rejects_a_position_already_passed_and_keeps_the_last_one(
    database: ViewDatabase, notification_id: int
) -> None:
    tracker = open_tracker(database, TABLE)
    tracker.insert_tracking(Tracking(APP, 7))

    with pytest.raises(IntegrityError):
        tracker.insert_tracking(Tracking(APP, notification_id))

    assert tracker.max_tracking_id(APP) == 7


def test_creating_the_table_again_keeps_the_positions(database: ViewDatabase) -> None:
    tracker = open_tracker(database, TABLE)
    tracker.insert_tracking(Tracking(APP, 5))

    tracker.create_table()

    assert tracker.max_tracking_id(APP) == 5


def test_a_tracker_has_no_batch_so_a_process_holds_no_transaction_open() -> None:
    # The runner batches views that have `batch()`; a process manager's work between its
    # positions (gateway calls) must not run inside a view database transaction.
    tracker = open_tracker(open_view_database("memory"), TABLE)
    try:
        assert not hasattr(tracker, "batch")
    finally:
        tracker.close()


def test_takes_over_the_positions_of_the_librarys_sqlite_tracking_table(tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    legacy_datastore = SQLiteDatastore(str(path))
    legacy = SQLiteTrackingRecorder(legacy_datastore)  # the table `tracking`, as before
    legacy.create_table()
    legacy.insert_tracking(Tracking(APP, 42))
    legacy_datastore.close()

    tracker = open_tracker(
        open_view_database("sqlite", sqlite_path=path), TABLE, adopt_from="tracking"
    )
    try:
        assert tracker.max_tracking_id(APP) == 42
        tracker.insert_tracking(Tracking(APP, 43))
        tracker.create_table()  # later starts take nothing over again
        assert tracker.max_tracking_id(APP) == 43
        assert tracker.max_tracking_id("__migration__") == 1
    finally:
        tracker.close()


def test_the_librarys_postgres_recorder_reads_the_same_table() -> None:
    with postgres_schema() as schema:
        tracker = open_tracker(
            open_view_database("postgres", postgres=postgres_connection(schema)), TABLE
        )
        datastore = PostgresDatastore(
            dbname=POSTGRES.dbname,
            host=POSTGRES.host,
            port=POSTGRES.port,
            user=POSTGRES.user,
            password=POSTGRES.password,
            schema=schema,
        )
        try:
            tracker.insert_tracking(Tracking(APP, 9))
            library = PostgresTrackingRecorder(datastore, tracking_table_name=TABLE)
            library.create_table()  # sees the migration marker: leaves the table as it is
            assert library.max_tracking_id(APP) == 9
            library.insert_tracking(Tracking(APP, 10))
            assert tracker.max_tracking_id(APP) == 10
        finally:
            datastore.close()
            tracker.close()
