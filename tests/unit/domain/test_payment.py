"""Payment: every transition, every refused one, retries and two-phase refunds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    InvalidAmountError,
    InvalidPaymentTransitionError,
    PaymentNotRetryableError,
    RefundExceedsCapturedError,
    RetryLimitReachedError,
)
from domain.payment import (
    CREATED,
    FAILED,
    PARTIALLY_REFUNDED,
    PROCESSING,
    REFUNDED,
    SUCCESS,
    Payment,
    Transition,
)
from domain.payment_terms import FRAUD_SUSPECTED, PaymentMethod
from domain.splits import Allocation, Split

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SPLITS = (Split("school", bps=9000), Split("platform", bps=1000))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_payment(
    amount_minor: int = 10_000, splits: tuple[Split, ...] = (), method: str = PaymentMethod.CARD
) -> Payment:
    return Payment.create(
        uuid4(),
        "alice",
        "school",
        amount_minor,
        "USD",
        method,
        "term fees",
        splits,
        "digest",
        at(0),
        card_token="tok_1",
        card_brand="visa",
        card_last4="4242",
    )


def processing(amount_minor: int = 10_000, splits: tuple[Split, ...] = ()) -> Payment:
    payment = new_payment(amount_minor, splits)
    payment.start_processing(f"{payment.id}:1", at(1))
    return payment


def captured(amount_minor: int = 10_000, splits: tuple[Split, ...] = ()) -> Payment:
    payment = processing(amount_minor, splits)
    payment.succeed(uuid4(), "ch_1", at(2))
    return payment


def failed(retryable: bool = True, reason: str = "PROCESSING_ERROR") -> Payment:
    payment = processing()
    payment.fail(reason, retryable, at(2), "ch_failed")
    return payment


def partially_refunded() -> Payment:
    payment = captured()
    payment.refund(uuid4(), 4_000, uuid4(), "partial", at(3))
    return payment


def refunded() -> Payment:
    payment = captured()
    payment.refund(uuid4(), 10_000, uuid4(), "all", at(3))
    return payment


def state(payment: Payment) -> tuple[Any, ...]:
    """Everything a refused command must leave as it was (and no new event pending)."""
    return (
        payment.version,
        len(payment.pending_events),
        payment.status,
        payment.failure_reason,
        payment.retryable,
        payment.attempts,
        payment.gateway_key,
        payment.gateway_reference,
        payment.transaction_id,
        payment.allocations,
        payment.refunded_minor,
        dict(payment.refunds.by_payee),
        payment.refunds.done,
        dict(payment.refunds.pending),
        dict(payment.refunds.digests),
        dict(payment.refunds.failed),
        list(payment.history),
    )


# The happy path, step by step.


def test_a_new_payment_keeps_the_request_and_starts_its_history_as_created() -> None:
    payment = new_payment(splits=SPLITS)

    assert payment.status == CREATED
    assert (payment.payer_id, payment.recipient, payment.amount_minor, payment.currency) == (
        "alice",
        "school",
        10_000,
        "USD",
    )
    assert (payment.card_token, payment.card_brand, payment.card_last4) == ("tok_1", "visa", "4242")
    assert payment.splits == SPLITS
    assert (payment.attempts, payment.failure_reason, payment.retryable) == (0, "", False)
    assert (payment.captured_minor, payment.refundable_minor) == (0, 0)
    assert payment.history == [Transition(CREATED, "requested", T0)]


def test_starting_processing_makes_the_first_attempt_with_its_gateway_key() -> None:
    payment = new_payment()

    payment.start_processing(f"{payment.id}:1", at(1))

    assert payment.status == PROCESSING
    assert (payment.attempts, payment.gateway_key) == (1, f"{payment.id}:1")
    assert payment.retries_used() == 0
    assert payment.history[-1] == Transition(PROCESSING, "accepted", at(1))


def test_success_captures_the_amount_for_the_recipient_when_there_are_no_splits() -> None:
    payment = processing()
    transaction_id = uuid4()

    payment.succeed(transaction_id, "ch_1", at(2))

    assert payment.status == SUCCESS
    assert (payment.transaction_id, payment.gateway_reference) == (transaction_id, "ch_1")
    assert payment.allocations == (Allocation("school", 10_000),)
    assert (payment.captured_minor, payment.refundable_minor) == (10_000, 10_000)
    assert payment.history[-1] == Transition(SUCCESS, "captured", at(2))


def test_success_allocates_the_capture_between_the_split_payees() -> None:
    payment = processing(10_001, SPLITS)

    assert payment.plan_capture() == (Allocation("school", 9_001), Allocation("platform", 1_000))
    payment.succeed(uuid4(), "", at(2))

    assert payment.allocations == (Allocation("school", 9_001), Allocation("platform", 1_000))
    assert payment.captured_minor == 10_001


@pytest.mark.parametrize(
    ("reason", "retryable"), [("PROCESSING_ERROR", True), ("CARD_DECLINED", False)]
)
def test_failure_records_the_reason_the_reference_and_whether_it_may_be_retried(
    reason: str, retryable: bool
) -> None:
    payment = processing()

    payment.fail(reason, retryable, at(2), "ch_9")

    assert payment.status == FAILED
    assert (payment.failure_reason, payment.retryable, payment.gateway_reference) == (
        reason,
        retryable,
        "ch_9",
    )
    assert payment.captured_minor == 0
    assert payment.history[-1] == Transition(FAILED, reason, at(2))


def test_a_request_that_breaks_a_rule_is_failed_for_good_without_an_attempt() -> None:
    payment = new_payment()

    payment.reject(FRAUD_SUSPECTED, at(0))

    assert payment.status == FAILED
    assert (payment.failure_reason, payment.retryable, payment.attempts) == (
        FRAUD_SUSPECTED,
        False,
        0,
    )
    assert [(t.status, t.reason) for t in payment.history] == [
        (CREATED, "requested"),
        (FAILED, FRAUD_SUSPECTED),
    ]
    with pytest.raises(PaymentNotRetryableError):
        payment.retry("k:1", 3, at(1))


def test_history_keeps_every_transition_with_its_reason_and_time_in_order() -> None:
    payment = failed()
    payment.retry(f"{payment.id}:2", 3, at(3))
    payment.succeed(uuid4(), "ch_2", at(4))
    payment.refund(uuid4(), 1_000, uuid4(), "", at(5))
    payment.refund(uuid4(), 9_000, uuid4(), "customer asked", at(6))

    assert [(t.status, t.reason, t.at) for t in payment.history[1:]] == [
        (PROCESSING, "accepted", at(1)),
        (FAILED, "PROCESSING_ERROR", at(2)),
        (PROCESSING, "retry", at(3)),
        (SUCCESS, "captured", at(4)),
        (PARTIALLY_REFUNDED, "refund", at(5)),
        (REFUNDED, "customer asked", at(6)),
    ]


def test_every_transition_is_an_event_that_replays_to_the_same_payment() -> None:
    payment = partially_refunded()
    events = payment.collect_events()

    replayed: Payment | None = None
    for domain_event in events:
        replayed = domain_event.mutate(replayed)

    assert replayed is not None
    assert state(replayed) == state(payment)
    assert [type(e).__name__ for e in events] == [
        "Created",
        "ProcessingStarted",
        "Succeeded",
        "Refunded",
    ]
    assert all(e.at == t.at for e, t in zip(events[1:], payment.history[1:], strict=True))


# Refused transitions: an InvalidPaymentTransitionError (409) and nothing changes.

Command = Callable[[Payment], object]

START: Command = lambda p: p.start_processing("k:1", at(9))  # noqa: E731
REJECT: Command = lambda p: p.reject("INVALID_REQUEST", at(9))  # noqa: E731
SUCCEED: Command = lambda p: p.succeed(uuid4(), "ch_x", at(9))  # noqa: E731
FAIL: Command = lambda p: p.fail("PROCESSING_ERROR", True, at(9))  # noqa: E731
RETRY: Command = lambda p: p.retry("k:2", 3, at(9))  # noqa: E731
PLAN_CAPTURE: Command = lambda p: p.plan_capture()  # noqa: E731
REQUEST_REFUND: Command = lambda p: p.request_refund(uuid4(), 1, "", "d", at(9))  # noqa: E731
REFUND: Command = lambda p: p.refund(uuid4(), 1, uuid4(), "", at(9))  # noqa: E731

REFUSED = [
    (new_payment, [SUCCEED, FAIL, RETRY, PLAN_CAPTURE, REQUEST_REFUND, REFUND]),
    (processing, [START, REJECT, RETRY, REQUEST_REFUND, REFUND]),
    (captured, [START, REJECT, SUCCEED, FAIL, RETRY, PLAN_CAPTURE]),
    (failed, [START, REJECT, SUCCEED, FAIL, PLAN_CAPTURE, REQUEST_REFUND, REFUND]),
    (partially_refunded, [START, REJECT, SUCCEED, FAIL, RETRY, PLAN_CAPTURE]),
    (refunded, [START, REJECT, SUCCEED, FAIL, RETRY, PLAN_CAPTURE, REQUEST_REFUND, REFUND]),
]
NAMES = {
    id(START): "start",
    id(REJECT): "reject",
    id(SUCCEED): "succeed",
    id(FAIL): "fail",
    id(RETRY): "retry",
    id(PLAN_CAPTURE): "plan_capture",
    id(REQUEST_REFUND): "request_refund",
    id(REFUND): "refund",
}


@pytest.mark.parametrize(
    ("make", "command"),
    [(make, command) for make, commands in REFUSED for command in commands],
    ids=[
        f"{make.__name__}-{NAMES[id(command)]}"
        for make, commands in REFUSED
        for command in commands
    ],
)
def test_refuses_a_transition_the_status_does_not_allow_and_changes_nothing(
    make: Callable[[], Payment], command: Command
) -> None:
    payment = make()
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError) as refused:
        command(payment)

    assert refused.value.code == "invalid_payment_transition"
    assert state(payment) == before


# Retries.


def test_retrying_a_transient_failure_makes_the_next_attempt_with_a_new_key() -> None:
    payment = failed()

    payment.retry(f"{payment.id}:2", 3, at(3))

    assert payment.status == PROCESSING
    assert (payment.attempts, payment.gateway_key, payment.retries_used()) == (
        2,
        f"{payment.id}:2",
        1,
    )
    assert (payment.failure_reason, payment.retryable) == ("", False)
    assert payment.history[-1] == Transition(PROCESSING, "retry", at(3))


@pytest.mark.parametrize("retries_max", [0, 1, 3])
def test_retries_stop_at_the_limit_and_the_refusal_changes_nothing(retries_max: int) -> None:
    payment = failed()
    for attempt in range(2, retries_max + 2):
        payment.retry(f"{payment.id}:{attempt}", retries_max, at(attempt))
        payment.fail("GATEWAY_UNAVAILABLE", True, at(attempt))
    before = state(payment)

    with pytest.raises(RetryLimitReachedError):
        payment.retry(f"{payment.id}:{retries_max + 2}", retries_max, at(99))

    assert payment.retries_used() == retries_max
    assert payment.attempts == retries_max + 1
    assert state(payment) == before


def test_refuses_to_retry_a_failure_that_is_not_transient_and_changes_nothing() -> None:
    payment = failed(retryable=False, reason="CARD_DECLINED")
    before = state(payment)

    with pytest.raises(PaymentNotRetryableError) as refused:
        payment.retry(f"{payment.id}:2", 3, at(3))

    assert refused.value.code == "payment_not_retryable"
    assert state(payment) == before


# Refunds.


def test_partial_refunds_add_up_to_the_capture_and_then_no_further() -> None:
    payment = captured()

    payment.refund(uuid4(), 2_500, uuid4(), "first", at(3))
    assert (payment.status, payment.refunded_minor, payment.refundable_minor) == (
        PARTIALLY_REFUNDED,
        2_500,
        7_500,
    )
    payment.refund(uuid4(), 7_499, uuid4(), "second", at(4))
    assert (payment.status, payment.refundable_minor) == (PARTIALLY_REFUNDED, 1)
    payment.refund(uuid4(), 1, uuid4(), "last cent", at(5))
    assert (payment.status, payment.refunded_minor, payment.refundable_minor) == (
        REFUNDED,
        10_000,
        0,
    )
    assert len(payment.refunds.done) == 3
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError):
        payment.refund(uuid4(), 1, uuid4(), "one more", at(6))
    assert state(payment) == before


def test_refuses_a_refund_beyond_what_is_left_and_changes_nothing() -> None:
    payment = partially_refunded()
    before = state(payment)

    with pytest.raises(RefundExceedsCapturedError) as refused:
        payment.refund(uuid4(), 6_001, uuid4(), "", at(4))
    with pytest.raises(RefundExceedsCapturedError):
        payment.request_refund(uuid4(), 6_001, "", "d", at(4))

    assert refused.value.code == "refund_exceeds_captured"
    assert state(payment) == before


@pytest.mark.parametrize("amount", [0, -1, True, 10**15 + 1])
def test_refuses_a_refund_of_an_invalid_amount_and_changes_nothing(amount: int) -> None:
    payment = captured()
    before = state(payment)

    with pytest.raises(InvalidAmountError):
        payment.request_refund(uuid4(), amount, "", "d", at(3))

    assert state(payment) == before


def test_a_requested_refund_reserves_its_amount_against_the_refundable_amount() -> None:
    payment = captured()
    first, second = uuid4(), uuid4()

    payment.request_refund(first, 6_000, "r", "digest-1", at(3))

    assert payment.status == SUCCESS
    assert (payment.refunded_minor, payment.refundable_minor) == (0, 4_000)
    assert payment.refunds.pending == {str(first): 6_000}
    assert payment.refunds.digests == {str(first): "digest-1"}
    before = state(payment)
    with pytest.raises(RefundExceedsCapturedError):
        payment.request_refund(second, 4_001, "r", "digest-2", at(4))
    with pytest.raises(RefundExceedsCapturedError):
        payment.refund(second, 4_001, uuid4(), "r", at(4))
    assert state(payment) == before
    payment.request_refund(second, 4_000, "r", "digest-2", at(4))
    assert payment.refundable_minor == 0


def test_completing_a_requested_refund_releases_its_reservation_once() -> None:
    payment = captured(splits=SPLITS)
    refund_id = uuid4()
    payment.request_refund(refund_id, 6_000, "r", "d", at(3))

    allocations = payment.refund(refund_id, 6_000, uuid4(), "r", at(4), "re_1")

    assert allocations == (Allocation("school", 5_400), Allocation("platform", 600))
    assert payment.refunds.pending == {}
    assert (payment.status, payment.refunded_minor, payment.refundable_minor) == (
        PARTIALLY_REFUNDED,
        6_000,
        4_000,
    )
    assert payment.refunds.by_payee == {"school": 5_400, "platform": 600}
    assert payment.refunds.done == (str(refund_id),)


def test_refuses_to_complete_a_requested_refund_for_another_amount_and_keeps_it_reserved() -> None:
    payment = captured()
    refund_id = uuid4()
    payment.request_refund(refund_id, 3_000, "r", "d", at(3))
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError):
        payment.refund(refund_id, 2_000, uuid4(), "r", at(4))

    assert state(payment) == before
    assert payment.refunds.pending == {str(refund_id): 3_000}


def test_a_failed_refund_releases_its_reservation_and_refunds_nothing() -> None:
    payment = captured()
    refund_id = uuid4()
    payment.request_refund(refund_id, 10_000, "r", "d", at(3))
    assert payment.refundable_minor == 0

    payment.fail_refund(refund_id, "REFUND_DECLINED", at(4))

    assert payment.refunds.pending == {}
    assert (payment.status, payment.refunded_minor, payment.refundable_minor) == (
        SUCCESS,
        0,
        10_000,
    )
    assert payment.history[-1].status == SUCCESS  # a refused refund is no transition


def test_refuses_to_fail_a_refund_that_is_not_pending_and_changes_nothing() -> None:
    payment = captured()
    refund_id = uuid4()
    payment.request_refund(refund_id, 1_000, "r", "d", at(3))
    payment.refund(refund_id, 1_000, uuid4(), "r", at(4))
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError):
        payment.fail_refund(refund_id, "LATE", at(5))
    with pytest.raises(InvalidPaymentTransitionError):
        payment.fail_refund(uuid4(), "UNKNOWN", at(5))

    assert state(payment) == before


def test_refunds_take_back_from_payees_in_proportion_and_never_more_than_they_got() -> None:
    payment = captured(10_001, SPLITS)  # school 9001, platform 1000

    first = payment.refund(uuid4(), 3, uuid4(), "", at(3))
    rest = payment.refund(uuid4(), 9_998, uuid4(), "", at(4))

    assert first == (Allocation("school", 3),)
    assert sum(a.amount_minor for a in rest) == 9_998
    assert payment.refunds.by_payee == {"school": 9_001, "platform": 1_000}
    assert payment.status == REFUNDED


def test_refuses_to_complete_the_same_refund_twice_and_changes_nothing() -> None:
    payment = captured()
    refund_id = uuid4()
    payment.refund(refund_id, 1_000, uuid4(), "r", at(3))
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError):
        payment.refund(refund_id, 1_000, uuid4(), "r", at(4))

    assert state(payment) == before


def test_refuses_to_complete_a_refund_the_gateway_refused_and_changes_nothing() -> None:
    payment = captured()
    refund_id = uuid4()
    payment.request_refund(refund_id, 1_000, "r", "d", at(3))
    payment.fail_refund(refund_id, "REFUND_DECLINED", at(4))
    before = state(payment)

    with pytest.raises(InvalidPaymentTransitionError):
        payment.refund(refund_id, 1_000, uuid4(), "r", at(5))

    assert state(payment) == before
    assert payment.refunds.failed == {str(refund_id): "REFUND_DECLINED"}


def test_the_wallet_method_follows_the_same_state_machine() -> None:
    payment = new_payment(method=PaymentMethod.WALLET)
    payment.start_processing(f"{payment.id}:1", at(1))
    payment.succeed(uuid4(), "", at(2))

    assert (payment.method, payment.status, payment.gateway_reference) == (
        PaymentMethod.WALLET,
        SUCCESS,
        "",
    )


def test_payment_ids_are_whatever_the_caller_chose() -> None:
    payment_id = UUID(int=7)
    payment = Payment.create(
        payment_id, "", "school", 1, "JPY", PaymentMethod.CARD, "", (), "d", at(0)
    )

    assert payment.id == payment_id
    assert (payment.card_token, payment.card_brand, payment.card_last4) == ("", "", "")
