"""The relay against the real NATS JetStream server: every event of the log appears once by
id, in log order, with its position; re-sends after a lost checkpoint are dropped by the
duplicate window; replicas share the work through the lease and never double-publish."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dishka import Container

from adapters.clock import SystemClock
from application.integration_mapping import message_id, to_integration_event
from application.ledger import Ledger
from application.readiness import ReadinessProbe
from application.relay import RelayRunner
from entrypoints.container import build_sync_container
from entrypoints.container_relay import CHECKPOINT_TABLE, CheckpointKey, RelayRunners
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings
from entrypoints.workers import BackgroundWorkers
from tests.support.nats import TestStream, nats_stream, read_stream, stream_state
from tests.support.services import POSTGRES, postgres_schema
from tests.support.waiting import eventually
from tests.unit.application.support import CALLER, make_app

pytestmark = pytest.mark.integration


def expected_ids(ledger: Ledger) -> list[str]:
    """The ids of the integration events of the whole log, in log order."""
    ids = []
    for notification in ledger.recorder.select_notifications(start=1, limit=1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        if to_integration_event(event, notification.id) is not None:
            ids.append(message_id(event))
    return ids


def write_some(ledger: Ledger, customers: int = 5) -> None:
    app = make_app(SystemClock(), ledger=ledger)
    for n in range(customers):
        app.wallets.open_wallet(CALLER, f"c{n}", "USD")
        app.wallets.credit_wallet(CALLER, f"c{n}", 1_000 + n, "USD")
    for n in range(1, customers):
        app.wallets.transfer(CALLER, "c0", f"c{n}", 10, "USD")


def relay_of(container: Container) -> RelayRunner:
    (runner,) = container.get(RelayRunners)
    assert isinstance(runner, RelayRunner)
    return runner


@contextmanager
def memory_container(stream: TestStream, **extra: str) -> Iterator[Container]:
    settings = load_settings({"PAYLEDGER_DATABASE_URL": "memory://", **stream.settings(**extra)})
    container = build_sync_container(settings)
    try:
        yield container
    finally:
        container.close()


def test_without_nats_configured_there_is_no_relay_and_readiness_says_off() -> None:
    container = build_sync_container(load_settings({"PAYLEDGER_DATABASE_URL": "memory://"}))
    try:
        assert container.get(RelayRunners) == ()
        assert all(not isinstance(r, RelayRunner) for r in container.get(BackgroundWorkers).runners)
        relay = container.get(ReadinessProbe).check().relay
        assert relay.status == "off"
        assert "PAYLEDGER_NATS_URL" in relay.destination
    finally:
        container.close()


def test_the_relay_creates_its_stream_at_start_even_before_any_event() -> None:
    with nats_stream() as stream, memory_container(stream) as container:
        assert relay_of(container).catch_up() == 0
        assert stream_state(stream.name) == (0, 120.0)


def test_every_event_appears_once_by_id_in_log_order_with_its_position() -> None:
    with nats_stream() as stream, memory_container(stream) as container:
        ledger = container.get(Ledger)
        write_some(ledger)
        relay = relay_of(container)

        relay.catch_up()

        stored = read_stream(stream.name)
        assert [m.msg_id for m in stored] == expected_ids(ledger)
        positions = [m.position for m in stored]
        assert positions == sorted(positions)
        first = json.loads(stored[0].body)
        assert (first["type"], first["id"], first["position"]) == (
            "wallets.opened",
            stored[0].msg_id,
            stored[0].position,
        )
        assert stored[0].subject == f"{stream.prefix}.wallets.opened"
        assert {m.subject.split(".", 1)[1] for m in stored} == {
            "wallets.opened",
            "wallets.credited",
            "wallets.debited",
        }
        assert stream_state(stream.name) == (len(stored), 120.0)
        readiness = container.get(ReadinessProbe).check()
        assert (readiness.relay.status, readiness.relay.lag) == ("on", 0)
        assert readiness.relay.position == ledger.log_position()


def test_a_lost_checkpoint_resends_with_the_same_ids_and_the_stream_drops_them() -> None:
    with nats_stream() as stream, memory_container(stream) as container:
        ledger = container.get(Ledger)
        write_some(ledger)
        relay = relay_of(container)
        relay.catch_up()
        count = len(read_stream(stream.name))
        # As if the relay died after the acks and before recording its position.
        checkpoint = container.get(CheckpointKey)  # type: ignore[call-overload]
        assert checkpoint is not None
        with checkpoint.database.transaction() as cursor:
            cursor.execute(checkpoint.database.sql("DELETE FROM {t}", {"t": CHECKPOINT_TABLE}))
        assert checkpoint.position() is None

        relay.catch_up()

        assert relay.duplicates_total == count
        assert [m.msg_id for m in read_stream(stream.name)] == expected_ids(ledger)


def test_readiness_reports_the_lag_in_events_and_seconds_while_nats_is_unreachable() -> None:
    with nats_stream() as stream:
        dead = TestStream(stream.name, stream.prefix, url="nats://127.0.0.1:1")
        with memory_container(dead, PAYLEDGER_NATS_CONNECT_TIMEOUT_S="0.2") as container:
            ledger = container.get(Ledger)
            write_some(ledger, customers=2)
            relay = relay_of(container)
            with pytest.raises(Exception, match="cannot reach NATS"):
                relay.run_once()
            readiness = container.get(ReadinessProbe).check()
            assert readiness.ready  # the API keeps taking payments
            assert readiness.relay.status == "on"
            assert readiness.relay.lag == ledger.log_position()
            assert readiness.relay.lag_s > 0.0
            assert readiness.relay.position is None


def postgres_settings(schema: str, stream: TestStream, lease_s: str = "10") -> Settings:
    url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
    return load_settings(
        {
            "PAYLEDGER_DATABASE_URL": url,
            "PAYLEDGER_DATABASE_SCHEMA": schema,
            "PAYLEDGER_DATABASE_POOL_SIZE": "1",
            "PAYLEDGER_WORKERS_POLL_INTERVAL_S": "0.2",
            "PAYLEDGER_JWT_SECRET": "a-test-secret-long-enough-for-hs256-tokens!!",
            "PAYLEDGER_CARD_FINGERPRINT_SECRET": "a-test-fingerprint-secret-32-bytes-long!",
            **stream.settings(PAYLEDGER_NATS_LEASE_S=lease_s, PAYLEDGER_NATS_BATCH_SIZE="7"),
        }
    )


def test_replicas_on_postgres_take_turns_under_the_lease_and_publish_each_event_once() -> None:
    with postgres_schema() as schema, nats_stream() as stream:
        settings = postgres_settings(schema, stream, lease_s="1")
        migrate(settings)
        containers = [build_sync_container(settings, create_tables=False) for _ in range(3)]
        try:
            ledger = containers[0].get(Ledger)
            relays = [relay_of(c) for c in containers]
            for relay in relays:
                relay.start()
            write_some(ledger, customers=6)
            end = ledger.log_position()
            checkpoint = containers[0].get(CheckpointKey)  # type: ignore[call-overload]
            eventually(lambda: checkpoint.position() == end, timeout_s=15)
            assert sum(r.leading for r in relays) == 1
            leader = next(r for r in relays if r.leading)
            # The leader stops cleanly: it lets the lease go and another one carries on.
            leader.stop()
            write_some_more = make_app(SystemClock(), ledger=ledger)
            write_some_more.wallets.credit_wallet(CALLER, "c1", 5, "USD")
            end = ledger.log_position()
            eventually(lambda: checkpoint.position() == end, timeout_s=15)
            assert sum(r.leading for r in relays if r is not leader) == 1
            assert [m.msg_id for m in read_stream(stream.name)] == expected_ids(ledger)
            assert sum(r.duplicates_total for r in relays) == 0
        finally:
            for relay in relays:
                relay.stop()
            for container in containers:
                container.close()


def test_a_replica_that_lost_its_lease_cannot_move_the_position() -> None:
    with postgres_schema() as schema, nats_stream() as stream:
        settings = postgres_settings(schema, stream)
        migrate(settings)
        container = build_sync_container(settings, create_tables=False)
        try:
            checkpoint = container.get(CheckpointKey)  # type: ignore[call-overload]
            assert checkpoint.acquire("a", 0.05) == 0
            assert checkpoint.acquire("b", 10) is None  # a's lease still runs
            threading.Event().wait(0.1)
            assert checkpoint.acquire("b", 10) == 0  # expired: b takes over
            assert not checkpoint.advance("a", 5, 10)
            assert checkpoint.position() is None
            assert checkpoint.advance("b", 5, 10)
            assert checkpoint.position() == 5
        finally:
            container.close()


def test_replicas_on_one_sqlite_file_publish_each_event_once(tmp_path: Path) -> None:
    """`serve --workers N` on the embedded default: N relays share the lease in the file."""
    with nats_stream() as stream:
        settings = load_settings(
            {
                "PAYLEDGER_DATA_DIR": str(tmp_path),
                "PAYLEDGER_WORKERS_POLL_INTERVAL_S": "0.2",
                **stream.settings(PAYLEDGER_NATS_BATCH_SIZE="5"),
            }
        )
        migrate(settings)
        containers = [build_sync_container(settings, create_tables=False) for _ in range(2)]
        relays = [relay_of(c) for c in containers]
        try:
            for relay in relays:
                relay.start()
            ledger = containers[0].get(Ledger)
            write_some(ledger, customers=8)
            end = ledger.log_position()
            checkpoint = containers[1].get(CheckpointKey)  # type: ignore[call-overload]
            eventually(lambda: checkpoint.position() == end, timeout_s=15)
            assert sum(r.leading for r in relays) == 1
            assert [m.msg_id for m in read_stream(stream.name)] == expected_ids(ledger)
            assert sum(r.duplicates_total for r in relays) == 0
        finally:
            for relay in relays:
                relay.stop()
            for container in containers:
                container.close()
