"""PaymentProcessor: follows the log, advances payments, reconciles unknown outcomes, and
charges each payment at most once however often it sees the same events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.popo import POPOTrackingRecorder

from application.gateway import PROCESSING_ERROR
from application.ledger import Ledger
from application.payment_processor import PaymentProcessor
from application.payment_projection import PaymentsProjection
from application.payments import PaymentRequest, PaymentRules, PaymentService
from application.projection_runner import ProjectionRunner
from domain.payment import FAILED, PROCESSING, SUCCESS
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
from tests.unit.application.support import log_position

pytestmark = pytest.mark.unit


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def service(ledger: Ledger, gateway: CountingGateway) -> PaymentService:
    ledger.open_wallet("alice", "USD")
    ledger.credit_wallet("alice", 100_000, "USD")
    return PaymentService(ledger, gateway, PaymentRules())


@pytest.fixture(autouse=True)
def money_is_conserved(ledger: Ledger) -> Iterator[None]:
    yield
    assert_money_conserved(ledger)


def start(
    ledger: Ledger, service: PaymentService, tracker: POPOTrackingRecorder | None = None
) -> tuple[PaymentProcessor, ProjectionRunner]:
    """A processor (on a tracker, new unless given) and its runner, as the worker wires them."""
    processor = PaymentProcessor(tracker or POPOTrackingRecorder(), service)
    processor.reconcile_interval_s = 0.0
    runner = ProjectionRunner(ledger, processor, batch_size=50, on_idle=processor.maybe_reconcile)
    return processor, runner


def by_card(service: PaymentService, number: str = GOOD_CARD, amount: int = 5_000) -> UUID:
    request = PaymentRequest("", "merchant", amount, "USD", "card", card=card(number))
    return service.create_payment(request).value.id


def by_wallet(service: PaymentService, amount: int = 2_000) -> UUID:
    request = PaymentRequest("alice", "school", amount, "USD", "wallet")
    return service.create_payment(request).value.id


def status(service: PaymentService, payment_id: UUID) -> str:
    return service.get_payment(payment_id).status


def test_the_processor_moves_every_new_payment_to_its_outcome(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    wallet_paid = by_wallet(service)
    card_paid = by_card(service)
    declined = by_card(service, DECLINED_CARD)
    rejected = by_wallet(service, 0)
    processor, runner = start(ledger, service)

    runner.catch_up()

    assert [status(service, p) for p in (wallet_paid, card_paid, declined, rejected)] == [
        SUCCESS,
        SUCCESS,
        FAILED,
        FAILED,
    ]
    assert processor.view.max_tracking_id(ledger.name) == log_position(ledger)
    assert gateway.keys_called() == [f"{card_paid}:1", f"{declined}:1"]
    assert len(gateway.captured) == 1
    assert processor.unsettled == set()


def test_a_retried_payment_is_advanced_by_its_new_attempt(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    gateway.script(f"{payment}:1", fail(PROCESSING_ERROR))
    _, runner = start(ledger, service)
    runner.catch_up()
    assert status(service, payment) == FAILED

    service.retry_payment(payment)
    runner.catch_up()

    assert status(service, payment) == SUCCESS
    assert gateway.keys_called() == [f"{payment}:1", f"{payment}:2"]
    assert len(journals(ledger, "payment", str(payment))) == 1


def test_reconciling_an_unknown_outcome_asks_again_with_the_same_key_and_charges_once(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, UNKNOWN_BUT_CHARGED, UNKNOWN)  # the money moved; its answers got lost
    processor, runner = start(ledger, service)

    runner.catch_up()  # once for the new payment, once for its first attempt

    assert status(service, payment) == PROCESSING
    assert processor.unsettled == {payment}
    assert journals(ledger, "payment") == []

    assert processor.reconcile() == 1

    assert status(service, payment) == SUCCESS
    assert processor.unsettled == set()
    assert gateway.keys_called() == [key]
    assert gateway.calls_for(key) == 3
    assert list(gateway.captured) == [key]
    assert len(journals(ledger, "payment", str(payment))) == 1
    assert processor.reconcile() == 0
    assert gateway.calls_for(key) == 3


def test_reconciling_when_idle_waits_for_the_interval(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, UNKNOWN, UNKNOWN, UNKNOWN)
    processor, runner = start(ledger, service)
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
    ledger: Ledger,
    service: PaymentService,
    gateway: CountingGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck, settles = by_card(service), by_card(service)
    gateway.script(f"{stuck}:1", UNKNOWN, UNKNOWN, Step("crash"))
    gateway.script(f"{settles}:1", UNKNOWN, UNKNOWN)
    processor, runner = start(ledger, service)
    runner.catch_up()

    with caplog.at_level(logging.ERROR, logger="application.payment_processor"):
        assert processor.reconcile() == 1

    assert (status(service, stuck), status(service, settles)) == (PROCESSING, SUCCESS)
    assert processor.unsettled == {stuck}
    assert str(stuck) in caplog.text
    assert gateway.captured_for(str(stuck)) == []


def test_processing_the_whole_log_again_with_a_fresh_tracker_charges_nothing_twice(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payments = [by_card(service), by_wallet(service), by_card(service, DECLINED_CARD)]
    retried = by_card(service)
    gateway.script(f"{retried}:1", fail(PROCESSING_ERROR))
    _, first = start(ledger, service)
    first.catch_up()
    service.retry_payment(retried)
    first.catch_up()
    before = (log_position(ledger), len(gateway.charge_calls), dict(gateway.captured))

    processor, again = start(ledger, service)  # a crash lost the processor's position
    applied = again.catch_up()

    assert applied == log_position(ledger)
    assert (log_position(ledger), len(gateway.charge_calls), dict(gateway.captured)) == before
    assert [status(service, p) for p in [*payments, retried]] == [SUCCESS, SUCCESS, FAILED, SUCCESS]
    assert len(journals(ledger, "payment")) == 3
    assert processor.unsettled == set()


def test_a_crash_after_the_gateway_took_the_money_is_charged_once_after_restart(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    key = f"{payment}:1"
    gateway.script(key, CRASH_AFTER_CHARGE)
    tracker = POPOTrackingRecorder()
    _, runner = start(ledger, service, tracker)

    with pytest.raises(GatewayConnectionLostError):
        runner.catch_up()
    assert status(service, payment) == PROCESSING
    assert journals(ledger, "payment") == []

    _, restarted = start(ledger, service, tracker)  # the same durable position
    restarted.catch_up()

    assert status(service, payment) == SUCCESS
    assert gateway.keys_called() == [key]
    assert list(gateway.captured) == [key]
    assert len(journals(ledger, "payment", str(payment))) == 1


def test_a_batch_of_new_payments_is_advanced_at_once_and_each_is_charged_once(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payments = [by_card(service, amount=100 + n) for n in range(20)]
    wallet_paid = [by_wallet(service, 10) for _ in range(5)]
    processor, runner = start(ledger, service)

    runner.catch_up()

    assert {status(service, p) for p in [*payments, *wallet_paid]} == {SUCCESS}
    assert sorted(gateway.captured) == sorted(f"{p}:1" for p in payments)
    assert all(gateway.calls_for(f"{p}:1") == 1 for p in payments)
    assert len(journals(ledger, "payment")) == 25
    assert processor.view.max_tracking_id(ledger.name) == log_position(ledger)


def test_a_batch_cut_short_by_a_crash_is_processed_again_without_charging_twice(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    crashing, others = by_card(service), [by_card(service) for _ in range(3)]
    gateway.script(f"{crashing}:1", CRASH_AFTER_CHARGE)
    tracker = POPOTrackingRecorder()
    _, runner = start(ledger, service, tracker)

    with pytest.raises(GatewayConnectionLostError):
        runner.catch_up()
    _, restarted = start(ledger, service, tracker)
    restarted.catch_up()

    assert {status(service, p) for p in [crashing, *others]} == {SUCCESS}
    assert sorted(gateway.captured) == sorted(f"{p}:1" for p in [crashing, *others])
    assert len(journals(ledger, "payment")) == 4


def test_events_other_than_new_payments_and_attempts_are_only_tracked(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    processor, runner = start(ledger, service)

    assert runner.catch_up() == log_position(ledger) > 0  # the wallet's events

    assert processor.view.max_tracking_id(ledger.name) == log_position(ledger)
    assert gateway.charge_calls == []


def test_a_restarted_processor_still_reconciles_payments_left_with_an_unknown_outcome(
    ledger: Ledger, service: PaymentService, gateway: CountingGateway
) -> None:
    payment = by_card(service)
    gateway.script(f"{payment}:1", UNKNOWN, UNKNOWN)
    tracker = POPOTrackingRecorder()
    _, runner = start(ledger, service, tracker)
    runner.catch_up()
    assert status(service, payment) == PROCESSING

    # The restarted processor finds the payment again in the payments read model.
    payments = memory_payments_view()
    ProjectionRunner(ledger, PaymentsProjection(view=payments)).catch_up()
    restarted, runner = start(ledger, service, tracker)
    restarted.payments = payments
    restarted.stale_after_s = 0.0
    runner.catch_up()
    restarted.maybe_reconcile()  # the gateway still does not know (second UNKNOWN)
    restarted.maybe_reconcile()

    assert status(service, payment) == SUCCESS
