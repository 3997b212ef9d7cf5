"""Followers of the log on PostgreSQL wait on LISTEN, not on a timer: a write by another
process (another container, its own pools) wakes them through the recorder's NOTIFY, and a
dropped LISTEN connection is reopened and catches up (the fallback poll here is an hour)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dishka import Container

from adapters.clock import SystemClock
from adapters.eventstore.new_events import PostgresNewEvents
from application.ledger import Ledger
from application.ports.new_events import NewEvents
from application.ports.views import LedgerViewRecorder
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import load_settings
from entrypoints.workers import BackgroundWorkers
from tests.support.services import POSTGRES, postgres_schema
from tests.support.waiting import eventually
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration


@dataclass
class Pair:
    writer: App  # another process, as far as the follower can tell
    follower: Container
    watcher: PostgresNewEvents
    view: LedgerViewRecorder


@pytest.fixture
def pair() -> Iterator[Pair]:
    with postgres_schema() as schema:
        url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
        settings = load_settings(
            {
                "PAYLEDGER_DATABASE_URL": url,
                "PAYLEDGER_DATABASE_SCHEMA": schema,
                "PAYLEDGER_DATABASE_POOL_SIZE": "1",
                "PAYLEDGER_WORKERS_POLL_INTERVAL_S": "3600",
            }
        )
        migrate(settings)
        writing = build_sync_container(settings, create_tables=False)
        follower = build_sync_container(settings, create_tables=False)
        try:
            writer = make_app(SystemClock(), ledger=writing.get(Ledger))
            watcher = follower.get(NewEvents)
            assert isinstance(watcher, PostgresNewEvents)
            workers = follower.get(BackgroundWorkers)
            workers.start()
            try:
                assert watcher.connected.wait(5.0)
                yield Pair(writer, follower, watcher, follower.get(LedgerViewRecorder))
            finally:
                workers.stop()
        finally:
            follower.close()
            writing.close()


def test_a_write_by_another_process_wakes_the_followers_through_notify(pair: Pair) -> None:
    assert pair.watcher.target.channel.startswith(pair.view.database.schema)  # type: ignore[attr-defined]
    time.sleep(0.1)  # the runners looked once at the empty log and wait (for an hour)

    pair.writer.wallets.open_wallet(CALLER, "alice", "USD")
    pair.writer.wallets.credit_wallet(CALLER, "alice", 700, "USD")
    end = pair.writer.ledger.log_position()

    took_s = eventually(lambda: pair.view.position() == end)
    assert took_s < 2.0
    assert pair.watcher.notifications >= 1
    assert [w.balance for w in pair.view.wallets_of("alice")] == [700]


def test_a_dropped_listen_connection_is_reopened_and_the_followers_catch_up(
    pair: Pair,
) -> None:
    channel = pair.watcher.target.channel
    with POSTGRES.connect() as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'payledger-listen' AND query = %s",
            (f'LISTEN "{channel}"',),
        ).fetchall()
    assert killed == [(True,)]
    eventually(lambda: not pair.watcher.connected.is_set())  # the listener noticed
    pair.writer.wallets.open_wallet(CALLER, "bob", "USD")  # while nobody listens
    end = pair.writer.ledger.log_position()

    eventually(lambda: pair.view.position() == end)
    assert pair.watcher.connected.is_set()
