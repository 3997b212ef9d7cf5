"""PaymentProcessor: follows the log, advances payments, reconciles unknown outcomes, and
charges each payment at most once however often it sees the same events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.popo import POPOTrackingRecorder

from application.payment_processor import PaymentProcessor
from application.payment_projection import PaymentsProjection
from application.payments import PaymentRequest
from application.ports.gateway import PROCESSING_ERROR
from application.projection_runner import ProjectionRunner
from domain.payment import FAILED, PROCESSING, SUCCESS
from domain.payment_terms import PaymentMethod
from tests.support.views import memory_payments_view
from tests.unit.application.payment_fakes import (
    CRASH_AFTER_CHARGE,
    DECLINED_CARD,
    GOOD_CARD,
    UNKNOWN,
    UNKNOWN_BUT_CHARGED,
    CountingGateway,
    GatewayConnectionLostError,
    Step,
    assert_money_conserved,
    card,
    fail,
    journals,
)
from tests.unit.application.support import CALLER, App, log_position

pytestmark = pytest.mark.unit


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def service(app: App) -> App:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 100_000, "USD")
    return app


@pytest.fixture(autouse=True)
def money_is_conserved(app: App) -> Iterator[None]:
    yield
    assert_money_conserved(app)


def start(
    app: App, service: App, tracker: POPOTrackingRecorder | None = None
) -> tuple[PaymentProcessor, ProjectionRunner]:
    """A processor (on a tracker, new unless given) and its runner, as the worker wires them."""
    processor = PaymentProcessor(tracker or POPOTrackingRecorder(), service.settlement, app.clock)
    processor.reconcile_interval_s = 0.0
    runner = ProjectionRunner(
        app.ledger, processor, batch_size=50, on_idle=processor.maybe_reconcile
    )
    return processor, runner


def by_card(service: App, number: str = GOOD_CARD, amount: int = 5_000) -> UUID:
    request = PaymentRequest("", "merchant", amount, "USD", PaymentMethod.CARD, card=card(number))
    return service.payments.create_payment(CALLER, request).value.id


def by_wallet(service: App, amount: int = 2_000) -> UUID:
    request = PaymentRequest("alice", "school", amount, "USD", PaymentMethod.WALLET)
    return service.payments.create_payment(CALLER, request).value.id


def status(service: App, payment_id: UUID) -> str:
    return service.payments.get_payment(CALLER, payment_id).status


def test_the_processor_moves_every_new_payment_to_its_outcome(
    app: App, service: App, gateway: CountingGateway
) -> None:
    wallet_paid = by_wallet(service)
    card_paid = by_card(service)
    declined = by_card(service, DECLINED_CARD)
    rejected = by_wallet(service, 0)
    processor, runner = start(app, service)

    runner.catch_up()

    assert [status(service, p) for p in (wallet_paid, card_paid, declined, rejected)] == [
        SUCCESS,
        SUCCESS,
        FAILED,
        FAILED,
    ]
    assert processor.view.max_tracking_id(app.ledger.name) == log_position(app)
    # A batch is advanced concurrently: the order of the two calls is not defined.
    assert sorted(gateway.keys_called()) == sorted([f"{card_paid}:1", f"{declined}:1"])
    assert len(gateway.captured) == 1
    assert processor.unsettled == set()


def test_a_retried_payment_is_advanced_by_its_new_attempt(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    gateway.script(f"{payment}:1", fail(PROCESSING_ERROR))
    _, runner = start(app, service)
    runner.catch_up()
    assert status(service, payment) == FAILED

    service.payments.retry_payment(CALLER, payment)
    runner.catch_up()

    assert status(service, payment) == SUCCESS
    assert gateway.keys_called() == [f"{payment}:1", f"{payment}:2"]
    assert len(journals(app, "payment", str(payment))) == 1


def test_reconciling_an_unknown_outcome_asks_again_with_the_same_key_and_charges_once(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, UNKNOWN_BUT_CHARGED, UNKNOWN)  # the money moved; its answers got lost
    processor, runner = start(app, service)

    runner.catch_up()  # once for the new payment, once for its first attempt

    assert status(service, payment) == PROCESSING
    assert processor.unsettled == {payment}
    assert journals(app, "payment") == []

    assert processor.reconcile() == 1

    assert status(service, payment) == SUCCESS
    assert processor.unsettled == set()
    assert gateway.keys_called() == [key]
    assert gateway.calls_for(key) == 3
    assert list(gateway.captured) == [key]
    assert len(journals(app, "payment", str(payment))) == 1
    assert processor.reconcile() == 0
    assert gateway.calls_for(key) == 3


def test_reconciling_when_idle_waits_for_the_interval(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, UNKNOWN, UNKNOWN, UNKNOWN)
    processor, runner = start(app, service)
    runner.catch_up()
    assert gateway.calls_for(key) == 2

    assert processor.maybe_reconcile() == 0  # asked: still unknown
    assert gateway.calls_for(key) == 3
    processor.reconcile_interval_s = 3600.0
    assert processor.maybe_reconcile() == 0  # too soon: not asked
    assert gateway.calls_for(key) == 3
    processor.reconcile_interval_s = 0.0
    assert processor.maybe_reconcile() == 1

    assert status(service, payment) == SUCCESS
    assert gateway.calls_for(key) == 4
    assert processor.maybe_reconcile() == 0  # nothing left to reconcile


def test_one_failing_payment_does_not_stop_the_others_from_reconciling(
    app: App,
    service: App,
    gateway: CountingGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck, settles = by_card(service), by_card(service)
    gateway.script(f"{stuck}:1", UNKNOWN, UNKNOWN, Step("crash"))
    gateway.script(f"{settles}:1", UNKNOWN, UNKNOWN)
    processor, runner = start(app, service)
    runner.catch_up()

    with caplog.at_level(logging.ERROR, logger="application.payment_processor"):
        assert processor.reconcile() == 1

    assert (status(service, stuck), status(service, settles)) == (PROCESSING, SUCCESS)
    assert processor.unsettled == {stuck}
    assert str(stuck) in caplog.text
    assert gateway.captured_for(str(stuck)) == []


def test_processing_the_whole_log_again_with_a_fresh_tracker_charges_nothing_twice(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payments = [by_card(service), by_wallet(service), by_card(service, DECLINED_CARD)]
    retried = by_card(service)
    gateway.script(f"{retried}:1", fail(PROCESSING_ERROR))
    _, first = start(app, service)
    first.catch_up()
    service.payments.retry_payment(CALLER, retried)
    first.catch_up()
    before = (log_position(app), len(gateway.charge_calls), dict(gateway.captured))

    processor, again = start(app, service)  # a crash lost the processor's position
    applied = again.catch_up()

    assert applied == log_position(app)
    assert (log_position(app), len(gateway.charge_calls), dict(gateway.captured)) == before
    assert [status(service, p) for p in [*payments, retried]] == [SUCCESS, SUCCESS, FAILED, SUCCESS]
    assert len(journals(app, "payment")) == 3
    assert processor.unsettled == set()


def test_a_crash_after_the_gateway_took_the_money_is_charged_once_after_restart(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, CRASH_AFTER_CHARGE)
    tracker = POPOTrackingRecorder()
    _, runner = start(app, service, tracker)

    with pytest.raises(GatewayConnectionLostError):
        runner.catch_up()
    assert status(service, payment) == PROCESSING
    assert journals(app, "payment") == []

    _, restarted = start(app, service, tracker)  # the same durable position
    restarted.catch_up()

    assert status(service, payment) == SUCCESS
    assert gateway.keys_called() == [key]
    assert list(gateway.captured) == [key]
    assert len(journals(app, "payment", str(payment))) == 1


def test_a_batch_of_new_payments_is_advanced_at_once_and_each_is_charged_once(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payments = [by_card(service, amount=100 + n) for n in range(20)]
    wallet_paid = [by_wallet(service, 10) for _ in range(5)]
    processor, runner = start(app, service)

    runner.catch_up()

    assert {status(service, p) for p in [*payments, *wallet_paid]} == {SUCCESS}
    assert sorted(gateway.captured) == sorted(f"{p}:1" for p in payments)
    assert all(gateway.calls_for(f"{p}:1") == 1 for p in payments)
    assert len(journals(app, "payment")) == 25
    assert processor.view.max_tracking_id(app.ledger.name) == log_position(app)


def test_a_batch_cut_short_by_a_crash_is_processed_again_without_charging_twice(
    app: App, service: App, gateway: CountingGateway
) -> None:
    crashing, others = by_card(service), [by_card(service) for _ in range(3)]
    gateway.script(f"{crashing}:1", CRASH_AFTER_CHARGE)
    tracker = POPOTrackingRecorder()
    _, runner = start(app, service, tracker)

    with pytest.raises(GatewayConnectionLostError):
        runner.catch_up()
    _, restarted = start(app, service, tracker)
    restarted.catch_up()

    assert {status(service, p) for p in [crashing, *others]} == {SUCCESS}
    assert sorted(gateway.captured) == sorted(f"{p}:1" for p in [crashing, *others])
    assert len(journals(app, "payment")) == 4


def test_events_other_than_new_payments_and_attempts_are_only_tracked(
    app: App, service: App, gateway: CountingGateway
) -> None:
    processor, runner = start(app, service)

    assert runner.catch_up() == log_position(app) > 0  # the wallet's events

    assert processor.view.max_tracking_id(app.ledger.name) == log_position(app)
    assert gateway.charge_calls == []


def test_a_restarted_processor_still_reconciles_payments_left_with_an_unknown_outcome(
    app: App, service: App, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    gateway.script(f"{payment}:1", UNKNOWN, UNKNOWN)
    tracker = POPOTrackingRecorder()
    _, runner = start(app, service, tracker)
    runner.catch_up()
    assert status(service, payment) == PROCESSING

    # The restarted processor finds the payment again in the payments read model.
    payments = memory_payments_view()
    ProjectionRunner(app.ledger, PaymentsProjection(view=payments)).catch_up()
    restarted, runner = start(app, service, tracker)
    restarted.payments = payments
    restarted.stale_after_s = 0.0
    runner.catch_up()
    restarted.maybe_reconcile()  # the gateway still does not know (second UNKNOWN)
    restarted.maybe_reconcile()

    assert status(service, payment) == SUCCESS
