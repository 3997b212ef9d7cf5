"""How a payment is funded: a wallet, a card, or the wallet first and a card for the rest
(seed 003's charges), and where refunds of a wallet-first payment go back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.payment import Payment
from domain.payment_terms import PaymentMethod, PaymentStatus, RefundSplit
from domain.splits import Allocation, Split

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SPLITS = (Split("shop", bps=9000), Split("platform", bps=1000))


def wallet_first(
    amount_minor: int = 5_000,
    wallet_minor: int = 3_000,
    hold_id: UUID | None = None,
    splits: tuple[Split, ...] = (),
) -> Payment:
    return Payment.create(
        uuid4(),
        "bob",
        "shop",
        amount_minor,
        "USD",
        PaymentMethod.WALLET_FIRST,
        "lunch",
        splits,
        "digest",
        NOW,
        card_token="tok_1",
        card_brand="visa",
        card_last4="4242",
        wallet_share_minor=wallet_minor,
        hold_id=hold_id,
    )


def captured(payment: Payment) -> Payment:
    payment.start_processing(f"{payment.id}:1", NOW)
    payment.succeed(uuid4(), "ch_1", NOW)
    return payment


def state(payment: Payment) -> tuple[Any, ...]:
    return (
        payment.version,
        payment.status,
        payment.failure_reason,
        payment.retryable,
        payment.transaction_id,
        payment.allocations,
    )


def test_a_wallet_first_payment_has_a_wallet_part_and_a_card_part() -> None:
    hold_id = uuid4()
    payment = wallet_first(5_000, 3_000, hold_id)

    assert payment.status == PaymentStatus.CREATED
    assert (payment.amount_minor, payment.wallet_minor, payment.card_minor) == (5_000, 3_000, 2_000)
    assert payment.hold_id == hold_id
    assert (payment.card_token, payment.card_brand, payment.card_last4) == ("tok_1", "visa", "4242")


@pytest.mark.parametrize(
    ("method", "wallet", "card"),
    [(PaymentMethod.WALLET, 5_000, 0), (PaymentMethod.CARD, 0, 5_000)],
)
def test_a_wallet_payment_is_all_wallet_and_a_card_payment_all_card(
    method: PaymentMethod, wallet: int, card: int
) -> None:
    payment = Payment.create(uuid4(), "bob", "shop", 5_000, "USD", method, "", (), "digest", NOW)

    assert (payment.wallet_minor, payment.card_minor) == (wallet, card)


@pytest.mark.parametrize("wallet", [-1, 5_001])
def test_refuses_a_wallet_part_outside_the_amount(wallet: int) -> None:
    with pytest.raises(AssertionError):
        wallet_first(5_000, wallet)


def test_success_splits_the_whole_amount_whatever_paid_it() -> None:
    payment = captured(wallet_first(5_000, 3_000, splits=SPLITS))

    assert payment.status == PaymentStatus.SUCCESS
    assert payment.allocations == (Allocation("shop", 4_500), Allocation("platform", 500))


def test_a_failed_wallet_first_payment_is_never_retryable() -> None:
    payment = wallet_first()
    payment.start_processing(f"{payment.id}:1", NOW)

    payment.fail("PROCESSING_ERROR", True, NOW, "ch_9")

    assert (payment.status, payment.failure_reason, payment.retryable) == (
        PaymentStatus.FAILED,
        "PROCESSING_ERROR",
        False,
    )
    assert (payment.transaction_id, payment.allocations) == (None, ())


def test_refunds_go_back_to_the_card_first_then_to_the_wallet() -> None:
    payment = captured(wallet_first(5_000, 3_000))
    first, second, third = uuid4(), uuid4(), uuid4()

    payment.request_refund(first, 1_500, "", "d1", NOW)
    payment.request_refund(second, 1_000, "", "d2", NOW)
    assert payment.refund_split(first) == RefundSplit(1_500, 0)
    assert payment.refund_split(second) == RefundSplit(500, 500)
    payment.refund(first, 1_500, uuid4(), "", NOW)
    payment.refund(second, 1_000, uuid4(), "", NOW)
    payment.request_refund(third, 2_500, "", "d3", NOW)

    assert payment.refund_split(third) == RefundSplit(0, 2_500)


def test_a_refused_refund_gives_its_card_part_back_to_the_next_one() -> None:
    payment = captured(wallet_first(5_000, 3_000))
    refused, next_one = uuid4(), uuid4()

    payment.request_refund(refused, 2_000, "", "d1", NOW)
    payment.fail_refund(refused, "REFUND_FAILED", NOW)
    payment.request_refund(next_one, 2_000, "", "d2", NOW)

    assert payment.refund_split(next_one) == RefundSplit(2_000, 0)


@pytest.mark.parametrize(
    ("method", "split"),
    [(PaymentMethod.CARD, RefundSplit(700, 0)), (PaymentMethod.WALLET, RefundSplit(0, 700))],
)
def test_a_card_payment_refunds_the_card_and_a_wallet_payment_the_wallet(
    method: PaymentMethod, split: RefundSplit
) -> None:
    payment = captured(
        Payment.create(uuid4(), "bob", "shop", 5_000, "USD", method, "", (), "digest", NOW)
    )
    refund_id = uuid4()

    payment.request_refund(refund_id, 700, "", "d", NOW)

    assert payment.refund_split(refund_id) == split


def test_every_change_is_an_event_that_replays_to_the_same_payment() -> None:
    payment = captured(wallet_first(splits=SPLITS))
    payment.request_refund(uuid4(), 2_500, "", "d", NOW)

    replayed: Payment | None = None
    for domain_event in payment.collect_events():
        replayed = domain_event.mutate(replayed)

    assert replayed is not None
    assert state(replayed) == state(payment)
    assert (replayed.wallet_minor, replayed.card_minor, replayed.splits) == (3_000, 2_000, SPLITS)
    assert replayed.refunds.to_card == payment.refunds.to_card
