"""Holds: reserve money, then post it (fully or partly, out or to another wallet) or void it."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.errors import HoldNotFoundError, WalletNotFoundError
from application.holds import HOLD_TTL_MAX
from domain.account import Account
from domain.errors import (
    HoldAmountExceededError,
    HoldExpiredError,
    HoldNotPendingError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidExpiryError,
    SameWalletTransferError,
)
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import (
    CALLER,
    App,
    ledger_state,
    log_position,
    read_log,
    wallet_state,
)

pytestmark = pytest.mark.unit

ALICE, BOB = ("alice", "USD"), ("bob", "USD")


@pytest.fixture
def funded(app: App) -> App:
    """Alice holds 1000 USD, Bob 0 USD."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    return app


def place(app: App, amount: int = 300, expires_in_s: int | None = 60) -> UUID:
    return app.holds.place_hold(
        CALLER, "alice", amount, "USD", expires_in_s, "trip deposit"
    ).value.id


def test_placing_a_hold_reserves_money_without_moving_it(funded: App, clock: FakeClock) -> None:
    written = funded.holds.place_hold(CALLER, "alice", 300, "USD", 60, "trip deposit")

    hold = written.value
    assert (hold.customer_id, hold.amount, hold.currency, hold.status) == (
        "alice",
        300,
        "USD",
        "PENDING",
    )
    assert hold.wallet_id == funded.wallets.get_wallet(CALLER, "alice", "USD").id
    assert hold.expires_at == clock.now() + timedelta(seconds=60)
    assert written.position == log_position(funded)
    assert wallet_state(funded, *ALICE)[:3] == (1000, 300, 700)
    assert funded.holds.get_hold(CALLER, hold.id) == hold


def test_a_hold_without_expiry_has_none(funded: App) -> None:
    assert funded.holds.place_hold(CALLER, "alice", 1, "USD").value.expires_at is None


def test_rejects_a_hold_beyond_the_available_balance_and_changes_nothing(funded: App) -> None:
    place(funded, 600)
    before = ledger_state(funded, ALICE)

    with pytest.raises(InsufficientFundsError):
        place(funded, 401)

    assert ledger_state(funded, ALICE) == before


@pytest.mark.parametrize("expires_in_s", [0, -1, int(HOLD_TTL_MAX.total_seconds()) + 1])
def test_rejects_an_expiry_outside_the_allowed_window_and_changes_nothing(
    funded: App, expires_in_s: int
) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(InvalidExpiryError):
        place(funded, 10, expires_in_s)

    assert ledger_state(funded, ALICE) == before


def test_rejects_a_hold_on_a_missing_wallet_or_for_an_invalid_amount(funded: App) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(WalletNotFoundError):
        funded.holds.place_hold(CALLER, "carol", 10, "USD")
    with pytest.raises(InvalidAmountError):
        funded.holds.place_hold(CALLER, "alice", 0, "USD")

    assert ledger_state(funded, ALICE) == before


def test_a_debit_cannot_spend_held_money(funded: App) -> None:
    place(funded, 300)
    before = ledger_state(funded, ALICE)

    with pytest.raises(InsufficientFundsError):
        funded.wallets.debit_wallet(CALLER, "alice", 701, "USD")

    assert ledger_state(funded, ALICE) == before


def test_posting_a_hold_in_full_pays_it_out(funded: App) -> None:
    hold_id = place(funded, 300)

    written = funded.holds.post_hold(CALLER, hold_id, description="paid")

    assert written.value.kind == "hold_capture"
    assert written.value.reference == str(hold_id)
    assert [(p.account, p.amount) for p in written.value.postings] == [
        ("wallet:alice", -300),
        ("system:external_payouts", 300),
    ]
    assert wallet_state(funded, *ALICE)[:3] == (700, 0, 700)
    hold = funded.holds.get_hold(CALLER, hold_id)
    assert (hold.status, hold.posted_amount, hold.transaction_id) == (
        "POSTED",
        300,
        written.value.id,
    )


def test_posting_part_of_a_hold_to_another_wallet_releases_the_rest(funded: App) -> None:
    hold_id = place(funded, 300)

    written = funded.holds.post_hold(CALLER, hold_id, 120, to_customer_id="bob")

    assert [(p.account, p.amount, p.balance_after) for p in written.value.postings] == [
        ("wallet:alice", -120, 880),
        ("wallet:bob", 120, 120),
    ]
    assert wallet_state(funded, *ALICE)[:3] == (880, 0, 880)
    assert wallet_state(funded, *BOB)[:3] == (120, 0, 120)
    assert funded.holds.get_hold(CALLER, hold_id).posted_amount == 120


def test_rejects_posting_a_hold_twice_and_changes_nothing(funded: App) -> None:
    hold_id = place(funded, 300)
    funded.holds.post_hold(CALLER, hold_id, 100)
    before = ledger_state(funded, ALICE, BOB)

    with pytest.raises(HoldNotPendingError):
        funded.holds.post_hold(CALLER, hold_id, 100)

    assert ledger_state(funded, ALICE, BOB) == before


@pytest.mark.parametrize(
    ("amount", "to_customer_id", "error"),
    [
        (301, None, HoldAmountExceededError),
        (0, None, InvalidAmountError),
        (100, "alice", SameWalletTransferError),
        (100, "carol", WalletNotFoundError),
    ],
)
def test_rejects_an_invalid_posting_and_leaves_the_hold_pending(
    funded: App, amount: int, to_customer_id: str | None, error: type[Exception]
) -> None:
    hold_id = place(funded, 300)
    before = ledger_state(funded, ALICE, BOB)

    with pytest.raises(error):
        funded.holds.post_hold(CALLER, hold_id, amount, to_customer_id)

    assert ledger_state(funded, ALICE, BOB) == before
    assert funded.holds.get_hold(CALLER, hold_id).status == "PENDING"


def test_voiding_a_hold_frees_the_money_and_moves_none(funded: App) -> None:
    hold_id = place(funded, 300)

    written = funded.holds.void_hold(CALLER, hold_id, "trip cancelled")

    assert written.value.status == "VOIDED"
    assert wallet_state(funded, *ALICE)[:3] == (1000, 0, 1000)
    released = [e for _, e in read_log(funded) if isinstance(e, Account.HoldReleased)]
    assert [(e.hold_id, e.amount_minor, e.reason) for e in released] == [
        (hold_id, 300, "trip cancelled")
    ]


def test_a_voided_hold_can_be_neither_posted_nor_voided_again(funded: App) -> None:
    hold_id = place(funded, 300)
    funded.holds.void_hold(CALLER, hold_id)
    before = ledger_state(funded, ALICE)

    with pytest.raises(HoldNotPendingError):
        funded.holds.post_hold(CALLER, hold_id)
    with pytest.raises(HoldNotPendingError):
        funded.holds.void_hold(CALLER, hold_id)

    assert ledger_state(funded, ALICE) == before


def test_a_posted_hold_cannot_be_voided(funded: App) -> None:
    hold_id = place(funded, 300)
    funded.holds.post_hold(CALLER, hold_id)
    before = ledger_state(funded, ALICE)

    with pytest.raises(HoldNotPendingError):
        funded.holds.void_hold(CALLER, hold_id)

    assert ledger_state(funded, ALICE) == before


def test_an_unknown_hold_cannot_be_read_posted_or_voided(funded: App) -> None:
    before = ledger_state(funded, ALICE)

    holds = funded.holds
    for attempt in (holds.get_hold, holds.post_hold, holds.void_hold):
        with pytest.raises(HoldNotFoundError):
            attempt(CALLER, uuid4())

    assert ledger_state(funded, ALICE) == before


# Expiry.


def test_an_expired_hold_no_longer_reserves_money(funded: App, clock: FakeClock) -> None:
    hold_id = place(funded, 300, expires_in_s=60)

    clock.advance(59)
    assert wallet_state(funded, *ALICE)[:3] == (1000, 300, 700)
    clock.advance(1)  # expiry is inclusive

    assert wallet_state(funded, *ALICE)[:3] == (1000, 0, 1000)
    assert funded.holds.get_hold(CALLER, hold_id).status == "EXPIRED"


def test_rejects_posting_an_expired_hold_and_changes_nothing(funded: App, clock: FakeClock) -> None:
    hold_id = place(funded, 300, expires_in_s=60)
    clock.advance(61)
    before = ledger_state(funded, ALICE, BOB)

    with pytest.raises(HoldExpiredError):
        funded.holds.post_hold(CALLER, hold_id, 100, "bob")

    assert ledger_state(funded, ALICE, BOB) == before
    assert funded.holds.get_hold(CALLER, hold_id).status == "EXPIRED"


def test_money_of_an_expired_hold_can_be_spent_and_its_release_is_recorded(
    funded: App, clock: FakeClock
) -> None:
    hold_id = place(funded, 300, expires_in_s=60)
    clock.advance(61)

    funded.wallets.debit_wallet(CALLER, "alice", 1000, "USD")

    assert wallet_state(funded, *ALICE)[:3] == (0, 0, 0)
    released = [e for _, e in read_log(funded) if isinstance(e, Account.HoldReleased)]
    assert [(e.hold_id, e.reason) for e in released] == [(hold_id, "expired")]
    with pytest.raises(HoldExpiredError):
        funded.holds.post_hold(CALLER, hold_id)


def test_an_expired_hold_can_still_be_voided(funded: App, clock: FakeClock) -> None:
    hold_id = place(funded, 300, expires_in_s=60)
    clock.advance(3600)

    assert funded.holds.void_hold(CALLER, hold_id, "tidy up").value.status == "VOIDED"
    assert wallet_state(funded, *ALICE)[:3] == (1000, 0, 1000)


def test_an_expired_hold_that_was_already_released_voids_without_a_second_release(
    funded: App, clock: FakeClock
) -> None:
    hold_id = place(funded, 300, expires_in_s=60)
    clock.advance(61)
    funded.wallets.debit_wallet(CALLER, "alice", 1, "USD")  # releases the lapsed hold on the wallet

    funded.holds.void_hold(CALLER, hold_id)

    released = [e for _, e in read_log(funded) if isinstance(e, Account.HoldReleased)]
    assert len(released) == 1
    assert wallet_state(funded, *ALICE)[:3] == (999, 0, 999)
