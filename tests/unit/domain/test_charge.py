"""Charge: the wallet part and the card part of one amount, and how the charge ended."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.charge import FAILED, PENDING, SUCCEEDED, Charge
from domain.errors import InvalidPaymentTransitionError
from domain.splits import Allocation, Split

pytestmark = pytest.mark.unit

SPLITS = (Split("shop", bps=9000), Split("platform", bps=1000))


def new_charge(
    amount_minor: int = 5_000,
    wallet_minor: int = 3_000,
    hold_id: UUID | None = None,
    splits: tuple[Split, ...] = (),
) -> Charge:
    return Charge.create(
        uuid4(),
        "bob",
        "shop",
        amount_minor,
        "USD",
        wallet_minor,
        hold_id,
        "tok_1",
        "visa",
        "4242",
        "lunch",
        splits,
        "digest",
    )


def state(charge: Charge) -> tuple[Any, ...]:
    return (
        charge.version,
        len(charge.pending_events),
        charge.status,
        charge.failure_reason,
        charge.gateway_reference,
        charge.transaction_id,
        charge.allocations,
    )


def test_a_new_charge_is_pending_with_the_wallet_part_and_the_card_part() -> None:
    hold_id = uuid4()
    charge = new_charge(5_000, 3_000, hold_id)

    assert charge.status == PENDING
    assert (charge.amount_minor, charge.wallet_minor, charge.card_minor) == (5_000, 3_000, 2_000)
    assert charge.hold_id == hold_id
    assert (charge.card_token, charge.card_brand, charge.card_last4) == ("tok_1", "visa", "4242")
    assert (charge.transaction_id, charge.allocations, charge.failure_reason) == (None, (), "")


@pytest.mark.parametrize(("wallet", "card"), [(5_000, 0), (0, 5_000)])
def test_a_charge_may_come_from_the_wallet_alone_or_the_card_alone(wallet: int, card: int) -> None:
    charge = new_charge(5_000, wallet)

    assert (charge.wallet_minor, charge.card_minor) == (wallet, card)


@pytest.mark.parametrize("wallet", [-1, 5_001])
def test_refuses_a_wallet_part_outside_the_amount(wallet: int) -> None:
    with pytest.raises(AssertionError):
        new_charge(5_000, wallet)


def test_success_records_the_transaction_and_splits_the_whole_amount() -> None:
    charge = new_charge(5_000, 3_000, splits=SPLITS)
    transaction_id = uuid4()

    assert charge.plan_capture() == (Allocation("shop", 4_500), Allocation("platform", 500))
    charge.succeed(transaction_id, "ch_1")

    assert charge.status == SUCCEEDED
    assert (charge.transaction_id, charge.gateway_reference) == (transaction_id, "ch_1")
    assert charge.allocations == (Allocation("shop", 4_500), Allocation("platform", 500))


def test_success_without_splits_pays_the_recipient() -> None:
    charge = new_charge()

    charge.succeed(uuid4(), "")

    assert charge.allocations == (Allocation("shop", 5_000),)


def test_failure_records_the_reason_and_moves_no_money() -> None:
    charge = new_charge()

    charge.fail("CARD_DECLINED", "ch_9")

    assert (charge.status, charge.failure_reason, charge.gateway_reference) == (
        FAILED,
        "CARD_DECLINED",
        "ch_9",
    )
    assert (charge.transaction_id, charge.allocations) == (None, ())


@pytest.mark.parametrize("ending", ["succeed", "fail"])
def test_refuses_to_end_a_charge_twice_and_changes_nothing(ending: str) -> None:
    charge = new_charge()
    if ending == "succeed":
        charge.succeed(uuid4(), "ch_1")
    else:
        charge.fail("CARD_DECLINED")
    before = state(charge)

    for again in (
        lambda: charge.succeed(uuid4(), "ch_2"),
        lambda: charge.fail("PROCESSING_ERROR"),
        charge.plan_capture,
    ):
        with pytest.raises(InvalidPaymentTransitionError):
            again()

    assert state(charge) == before


def test_every_change_is_an_event_that_replays_to_the_same_charge() -> None:
    charge = new_charge(splits=SPLITS)
    charge.succeed(uuid4(), "ch_1")

    replayed: Charge | None = None
    for domain_event in charge.collect_events():
        replayed = domain_event.mutate(replayed)

    assert replayed is not None
    assert state(replayed)[2:] == state(charge)[2:]
    assert (replayed.wallet_minor, replayed.card_minor, replayed.splits) == (3_000, 2_000, SPLITS)
