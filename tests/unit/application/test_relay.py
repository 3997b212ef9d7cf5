"""The relay's step with a recording publisher (acks what it is told to) and the real
checkpoint on in-memory SQLite: the position follows the acknowledged prefix, re-sends keep
their ids, events that are not published are passed over, the lease decides who publishes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from adapters.views.relay_checkpoint import SqlRelayCheckpoint
from adapters.views.sqlite import SQLiteViewDatabase
from application.ports.event_publisher import OutboundMessage, PublishOutcome
from application.relay import LeaseLostError, PublishIncompleteError, RelayRunner
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Sent:
    result: PublishOutcome

    def outcome(self) -> PublishOutcome:
        return self.result


class RecordingPublisher:
    """Acknowledges the first `acks` messages of each batch (all when None)."""

    destination = "a recording publisher"

    def __init__(self) -> None:
        self.batches: list[list[OutboundMessage]] = []
        self.acks: int | None = None
        self.ensured = 0

    def send(self, messages: Sequence[OutboundMessage]) -> Sent:
        self.batches.append(list(messages))
        if self.acks is None or self.acks >= len(messages):
            return Sent(PublishOutcome(len(messages)))
        return Sent(PublishOutcome(self.acks, problem="no acknowledgement in time"))

    def ensure_stream(self) -> None:
        self.ensured += 1

    def close(self) -> None:
        pass

    @property
    def sent(self) -> list[OutboundMessage]:
        return [m for batch in self.batches for m in batch]


@pytest.fixture
def checkpoint() -> Iterator[SqlRelayCheckpoint]:
    found = SqlRelayCheckpoint(SQLiteViewDatabase.in_memory(), "S", "relay_checkpoint")
    found.create_table()
    yield found
    found.close()


@pytest.fixture
def app() -> App:
    app = make_app(FakeClock())
    for name in ("alice", "bob"):
        app.wallets.open_wallet(CALLER, name, "USD")
        app.wallets.credit_wallet(CALLER, name, 1_000, "USD", idempotency_key=f"k-{name}")
    return app


def relay(
    app: App, checkpoint: SqlRelayCheckpoint, publisher: RecordingPublisher, batch_size: int = 100
) -> RelayRunner:
    return RelayRunner(app.ledger, checkpoint, publisher, holder="me", batch_size=batch_size)


def test_events_that_are_not_published_are_passed_over_and_the_position_reaches_the_end(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    publisher = RecordingPublisher()
    relay(app, checkpoint, publisher).catch_up()
    end = app.ledger.log_position()
    assert checkpoint.position() == end
    assert publisher.ensured == 1  # the stream is made ready once, at start
    subjects = [m.subject for m in publisher.sent]
    assert subjects == [
        "payledger.wallets.opened",
        "payledger.wallets.credited",
        "payledger.wallets.opened",
        "payledger.wallets.credited",
    ]
    assert len(publisher.sent) < (end or 0)  # the idempotency claims were not published


def test_a_partly_acknowledged_batch_records_only_the_prefix_and_resends_the_rest_same_ids(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    publisher = RecordingPublisher()
    runner = relay(app, checkpoint, publisher)
    publisher.acks = 2

    with pytest.raises(PublishIncompleteError, match="no acknowledgement in time"):
        runner.run_once()

    first = publisher.batches[0]
    assert checkpoint.position() == first[2].position - 1
    publisher.acks = None
    runner.catch_up()
    resent = publisher.batches[1]
    assert [m.msg_id for m in resent] == [m.msg_id for m in first[2:]]
    assert [m.body for m in resent] == [m.body for m in first[2:]]
    assert checkpoint.position() == app.ledger.log_position()


def test_with_batches_in_flight_the_position_stops_before_the_first_unacknowledged_one(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    class FailingThird(RecordingPublisher):
        def send(self, messages: Sequence[OutboundMessage]) -> Sent:
            self.acks = 0 if len(self.batches) == 2 else None
            return super().send(messages)

    publisher = FailingThird()
    runner = relay(app, checkpoint, publisher, batch_size=2)
    with pytest.raises(PublishIncompleteError):
        runner.run_once()
    assert len(publisher.batches) >= 3  # several batches were sent before the third's outcome
    third = publisher.batches[2]
    assert checkpoint.position() == third[0].position - 1
    sent_before = len(publisher.batches)
    runner.catch_up()
    assert checkpoint.position() == app.ledger.log_position()
    resent = publisher.batches[sent_before]
    assert resent[0].msg_id == third[0].msg_id  # from the first unacknowledged one, same id
    acked_first = {m.msg_id for m in publisher.batches[0] + publisher.batches[1]}
    assert not acked_first & {m.msg_id for batch in publisher.batches[sent_before:] for m in batch}


def test_nothing_acknowledged_leaves_the_position_where_it_was(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    publisher = RecordingPublisher()
    publisher.acks = 0
    with pytest.raises(PublishIncompleteError):
        relay(app, checkpoint, publisher).run_once()
    assert checkpoint.position() is None


def test_a_replica_without_the_lease_publishes_nothing(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    assert checkpoint.acquire("other", 60) == 0
    publisher = RecordingPublisher()
    runner = relay(app, checkpoint, publisher)
    assert runner.catch_up() == 0
    assert publisher.batches == []
    assert not runner.leading


def test_a_replica_that_loses_the_lease_mid_batch_cannot_record_its_position(
    app: App, checkpoint: SqlRelayCheckpoint
) -> None:
    class Usurper(RecordingPublisher):
        def send(self, messages: Sequence[OutboundMessage]) -> Sent:
            checkpoint.release("me")
            assert checkpoint.acquire("other", 60) == 0  # took over while we published
            return super().send(messages)

    runner = relay(app, checkpoint, Usurper())
    with pytest.raises(LeaseLostError):
        runner.run_once()
    assert checkpoint.position() is None
    assert not runner.leading
