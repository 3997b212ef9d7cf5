"""The webhook dispatcher works a batch of events at once and says exactly what it says one
event at a time: the same messages, ids and payloads, in the same order."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from application.charges import ChargeRequest
from application.payments import PaymentRequest
from application.ports.webhooks import OutboundMessage
from application.projection_runner import ProjectionRunner
from application.webhook_dispatcher import WebhookDispatcher
from domain.money import Money
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import CountingGateway
from tests.unit.application.support import CALLER, App, make_app, read_log

pytestmark = pytest.mark.unit


class RecordingStore:
    """The part of the webhook store a dispatcher writes to: what it recorded, and the
    transactions it took."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []
        self.position: int | None = None
        self.transactions = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position

    def insert_tracking(self, tracking: Tracking) -> None:
        self.position = tracking.notification_id
        self.transactions += 1

    def record_messages(
        self,
        messages: list[OutboundMessage],
        tracking: Tracking,
        now: datetime,
        horizon_s: float,
    ) -> int:
        self.messages.extend(messages)
        self.position = tracking.notification_id
        self.transactions += 1
        return len(messages)


@pytest.fixture
def busy_log(clock: FakeClock, gateway: CountingGateway) -> App:
    """Payments of every kind the dispatcher speaks of: settled, refunded twice, failed, and
    a wallet-first charge (its charge event too)."""
    app = make_app(clock, gateway)
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1_000, "USD")
    paid: list[UUID] = []
    for amount in (100, 200, 5_000):  # the last one cannot be paid from the wallet
        request = PaymentRequest("alice", "school-1", amount, "USD", PaymentMethod.WALLET)
        payment = app.payments.create_payment(CALLER, request).value
        app.settlement.advance(payment.id)
        paid.append(payment.id)
    app.refunds.refund_payment(CALLER, paid[1], 50)
    app.refunds.refund_payment(CALLER, paid[1], 25)
    app.charges.create_charge(CALLER, ChargeRequest("alice", "shop", Money(300, "USD")))
    return app


def dispatched(app: App, batch_size: int) -> RecordingStore:
    store = RecordingStore()

    def load_payment(payment_id: UUID, version: int) -> Any:
        return app.ledger.repository.get(payment_id, version=version)

    dispatcher = WebhookDispatcher(store, load_payment, app.clock, 3600.0)  # type: ignore[arg-type]
    ProjectionRunner(app.ledger, dispatcher, batch_size=batch_size).catch_up()
    return store


def test_a_batch_says_what_one_event_at_a_time_says(busy_log: App) -> None:
    one_by_one = dispatched(busy_log, 1)
    batched = dispatched(busy_log, 500)

    assert [m.event_type for m in batched.messages] == [m.event_type for m in one_by_one.messages]
    assert batched.messages == one_by_one.messages
    assert batched.position == one_by_one.position == busy_log.ledger.log_position()
    assert batched.transactions < one_by_one.transactions
    kinds = {str(m.event_type) for m in batched.messages}
    assert {"payment.status_changed", "payment.refunded"} <= kinds
    assert any(kind.startswith("charge.") for kind in kinds)


def test_a_batch_reads_each_payment_from_the_log_once(busy_log: App) -> None:
    loads: list[tuple[UUID, int]] = []
    store = RecordingStore()

    def load_payment(payment_id: UUID, version: int) -> Any:
        loads.append((payment_id, version))
        return busy_log.ledger.repository.get(payment_id, version=version)

    dispatcher = WebhookDispatcher(store, load_payment, busy_log.clock, 3600.0)  # type: ignore[arg-type]
    ProjectionRunner(busy_log.ledger, dispatcher, batch_size=500).catch_up()

    created = {e.originator_id for _, e in read_log(busy_log) if isinstance(e, Payment.Created)}
    assert len(created) == 4
    assert sorted(payment_id for payment_id, _ in loads) == sorted(created)  # each once
    assert all(version == 1 for _, version in loads)  # at its first event; the rest folded
