"""Integration tests of the group-commit recorder against a real PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking
from psycopg.sql import SQL, Identifier

from adapters.eventstore.postgres_recorder import (
    BatchWaitTimeoutError,
    CoalescingPostgresApplicationRecorder,
)
from tests.support.services import POSTGRES, postgres_schema

pytestmark = pytest.mark.integration

TOPIC = "adapters.eventstore.postgres_recorder:CoalescingPostgresApplicationRecorder"
CONNINFO = (
    f"dbname={POSTGRES.dbname} host={POSTGRES.host} port={POSTGRES.port} user={POSTGRES.user}"
)


class Counter(Aggregate):
    """A tiny aggregate: one event per increment."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class LedgerApp(Application[uuid.UUID]):
    """Events land in table ``ledgerapp_events``."""


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh uniquely named schema, dropped afterwards (skips without PostgreSQL)."""
    with postgres_schema() as name:
        yield name


@pytest.fixture
def app(schema: str) -> Iterator[LedgerApp]:
    """An application on the schema, using the coalescing recorder."""
    application = LedgerApp(
        env={**POSTGRES.eventsourcing_env(schema), "APPLICATION_RECORDER_TOPIC": TOPIC}
    )
    try:
        yield application
    finally:
        application.close()


def recorder_of(app: LedgerApp) -> CoalescingPostgresApplicationRecorder:
    """The app's recorder, checked to be ours."""
    assert isinstance(app.recorder, CoalescingPostgresApplicationRecorder)
    return app.recorder


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run target(i) in count threads and re-raise the first error."""
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "threads hung"
    if errors:
        raise errors[0]


def read_log(app: LedgerApp) -> list[Any]:
    """The whole notification log, in order."""
    return list(app.recorder.select_notifications(start=1, limit=1_000_000))


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll predicate until true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def saves_of_new_aggregates(app: LedgerApp, saves: int) -> list[list[Any]]:
    """Save `saves` commands of 3 events over 2 new aggregates; return recordings."""
    results = []
    for _ in range(saves):
        first, second = Counter(), Counter()
        first.increment()
        results.append(app.save(first, second))
    return results


def test_many_threads_distinct_aggregates_batch_and_keep_order(app: LedgerApp) -> None:
    threads, saves = 16, 50
    returned: dict[int, list[list[Any]]] = {}
    run_threads(threads, lambda i: returned.update({i: saves_of_new_aggregates(app, saves)}))

    log = read_log(app)
    ids = [n.id for n in log]
    assert len(log) == threads * saves * 3
    assert ids == sorted(set(ids)), "log ids must increase strictly"
    acknowledged = sorted(r.notification.id for rs in returned.values() for rec in rs for r in rec)
    assert acknowledged == ids, "every acknowledged event is in the log, nothing else"
    for recordings in (rec for rs in returned.values() for rec in rs):
        own = [r.notification.id for r in recordings]
        assert own == list(range(own[0], own[0] + len(own))), "one save: contiguous ids"
    recorder = recorder_of(app)
    assert recorder.requests_committed == threads * saves
    assert recorder.transactions_committed < recorder.requests_committed
    assert recorder.batches_split == 0


def hold_table_lock(schema: str) -> psycopg.Connection[Any]:
    """Open a transaction holding the events table lock; the caller commits it."""
    conn = psycopg.connect(CONNINFO)
    table = Identifier(schema, "ledgerapp_events")
    conn.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
    return conn


def lock_waiters(schema: str) -> int:
    """Number of backends waiting for a lock on the events table."""
    with psycopg.connect(CONNINFO) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            (f"{schema}.ledgerapp_events",),
        ).fetchone()
    return int(row[0]) if row else 0


def test_conflicts_in_one_batch_only_fail_the_conflicting_requests(
    app: LedgerApp, schema: str
) -> None:
    recorder = recorder_of(app)
    contested = Counter()
    app.save(contested)
    # Stall a leader on the table lock so that the next requests queue as one batch.
    blocker = hold_table_lock(schema)
    plug = threading.Thread(target=lambda: app.save(Counter()))
    plug.start()
    wait_until(lambda: lock_waiters(schema) == 1, "the leader to wait for the lock")

    outcomes: dict[str, Any] = {}
    copies: list[Counter] = [app.repository.get(contested.id) for _ in range(5)]

    def conflicting(i: int) -> None:
        copies[i].increment()  # each writes version 2
        try:
            outcomes[f"c{i}"] = app.save(copies[i])
        except IntegrityError as exc:
            outcomes[f"c{i}"] = exc

    def innocent(i: int) -> None:
        outcomes[f"n{i}"] = app.save(Counter())

    workers = [threading.Thread(target=conflicting, args=(i,)) for i in range(5)]
    workers += [threading.Thread(target=innocent, args=(i,)) for i in range(5)]
    for worker in workers:
        worker.start()
    wait_until(lambda: recorder.pending_requests == 10, "10 queued requests")
    blocker.commit()
    blocker.close()
    for worker in [plug, *workers]:
        worker.join(timeout=60)

    conflict_results = [outcomes[f"c{i}"] for i in range(5)]
    errors = [r for r in conflict_results if isinstance(r, Exception)]
    winners = [r for r in conflict_results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert len(errors) == 4
    assert all(type(e) is IntegrityError for e in errors)
    assert all(not isinstance(outcomes[f"n{i}"], Exception) for i in range(5))
    assert recorder.batches_split == 1
    stored = app.recorder.select_events(contested.id)
    assert [e.originator_version for e in stored] == [1, 2]
    winner_id = winners[0][0].notification.id
    (row,) = app.recorder.select_notifications(start=winner_id, limit=1)
    assert (row.originator_id, row.originator_version) == (contested.id, 2)
    assert len(read_log(app)) == 1 + 1 + 1 + 5  # contested v1, plug, winner, innocents
    stale: Counter = app.repository.get(contested.id, version=1)
    stale.increment()
    with pytest.raises(IntegrityError):  # a stale writer alone still conflicts
        app.save(stale)


def test_returned_ids_match_the_events_each_caller_wrote(app: LedgerApp) -> None:
    returned: dict[int, list[tuple[int, Any, int]]] = {}

    def work(i: int) -> None:
        mine = returned.setdefault(i, [])
        for recordings in saves_of_new_aggregates(app, 20):
            mine.extend(
                (
                    r.notification.id,
                    r.domain_event.originator_id,
                    r.domain_event.originator_version,
                )
                for r in recordings
            )

    run_threads(8, work)
    by_id = {n.id: n for n in read_log(app)}
    for triples in returned.values():
        for notification_id, originator_id, version in triples:
            (row,) = app.recorder.select_notifications(start=notification_id, limit=1)
            assert row.id == notification_id
            assert (row.originator_id, row.originator_version) == (
                originator_id,
                version,
            )
            assert by_id[notification_id].state == row.state
    assert recorder_of(app).transactions_committed < recorder_of(app).requests_committed


def test_connection_lost_mid_batch_is_retried_and_nothing_is_lost(
    app: LedgerApp, schema: str
) -> None:
    blocker = hold_table_lock(schema)
    saved: list[Any] = []
    threads = [threading.Thread(target=lambda: saved.append(app.save(Counter()))) for _ in range(6)]
    for thread in threads:
        thread.start()
    wait_until(lambda: lock_waiters(schema) == 1, "the leader to wait for the lock")
    with psycopg.connect(CONNINFO) as admin:  # kill the leader's connection
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE NOT granted AND relation = %s::regclass",
            (f"{schema}.ledgerapp_events",),
        )
    time.sleep(0.5)  # let the failed batch be retried; it queues on the lock again
    blocker.commit()
    blocker.close()
    for thread in threads:
        thread.join(timeout=60)
    assert len(saved) == 6
    acknowledged = sorted(r.notification.id for rec in saved for r in rec)
    assert acknowledged == [n.id for n in read_log(app)]


def test_tracking_kwarg_goes_through_the_base_implementation(app: LedgerApp) -> None:
    recorder = recorder_of(app)
    aggregate = Counter()
    stored = [app.mapper.to_stored_event(e) for e in aggregate.collect_events()]
    ids = recorder.insert_events(stored, tracking=Tracking("upstream", 1))
    assert ids is not None
    assert len(ids) == 1
    assert recorder.requests_committed == 0  # not coalesced
    assert recorder.insert_events(stored[:0]) is None


def test_lost_commit_ack_of_a_committed_batch_is_reported_as_success(
    app: LedgerApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorder_of(app)
    original = recorder._run_transaction
    attempts: list[str | None] = []

    def commit_then_lose_ack(conn: Any, batch: Any, probe: Any) -> None:
        original(conn, batch, probe)
        attempts.append(probe.xid)
        raise OperationalError("connection lost during COMMIT (simulated)")

    monkeypatch.setattr(recorder, "_run_transaction", commit_then_lose_ack)
    recordings = app.save(Counter())
    assert len(attempts) == 1, "a committed batch must not be retried"
    assert [n.id for n in read_log(app)] == [recordings[0].notification.id]


def test_lost_commit_ack_of_an_aborted_batch_is_retried(
    app: LedgerApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorder_of(app)
    original = recorder._run_transaction
    attempts: list[str] = []

    def abort_once(conn: Any, batch: Any, probe: Any) -> None:
        if attempts:
            return original(conn, batch, probe)
        with conn.transaction(force_rollback=True):
            row = conn.execute("SELECT pg_current_xact_id()::text AS xid").fetchone()
        probe.xid = row["xid"]
        attempts.append(probe.xid)
        raise OperationalError("connection lost during COMMIT (simulated)")

    monkeypatch.setattr(recorder, "_run_transaction", abort_once)
    recordings = app.save(Counter())
    assert len(attempts) == 1
    assert [n.id for n in read_log(app)] == [recordings[0].notification.id]


def test_request_not_taken_in_time_is_withdrawn_unwritten(app: LedgerApp, schema: str) -> None:
    recorder = recorder_of(app)
    recorder.wait_timeout = 0.3
    blocker = hold_table_lock(schema)
    plug = threading.Thread(target=lambda: app.save(Counter()))
    plug.start()
    wait_until(lambda: lock_waiters(schema) == 1, "the leader to wait for the lock")
    with pytest.raises(BatchWaitTimeoutError):
        app.save(Counter())
    assert recorder.pending_requests == 0
    blocker.commit()
    blocker.close()
    plug.join(timeout=60)
    assert len(read_log(app)) == 1
    app.save(Counter())  # the recorder is idle again and a new caller leads
    assert len(read_log(app)) == 2
