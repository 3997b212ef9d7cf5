"""Credits, debits and transfers: balanced journal entries that move wallet balances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from application.errors import TransactionNotFoundError, WalletNotFoundError
from domain.errors import (
    InsufficientFundsError,
    InvalidAmountError,
    SameWalletTransferError,
    UnknownCurrencyError,
)
from domain.ids import system_account_id, wallet_id
from domain.journal import EXTERNAL_FUNDING, EXTERNAL_PAYOUTS
from tests.unit.application.support import (
    CALLER,
    App,
    journal_postings,
    ledger_state,
    log_position,
    wallet_state,
)

pytestmark = pytest.mark.unit

ALICE, BOB = ("alice", "USD"), ("bob", "USD")


@pytest.fixture
def funded(app: App) -> App:
    """Alice holds 1000 USD, Bob 0 USD (overdraft 300) and Bob also has a JPY wallet."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD", overdraft_limit_minor=300)
    app.wallets.open_wallet(CALLER, "bob", "JPY")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD", "top up")
    return app


def test_a_credit_moves_money_from_external_funding_into_the_wallet(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")

    written = app.wallets.credit_wallet(CALLER, "alice", 2500, "USD", "top up")

    transaction = written.value
    assert transaction.kind == "credit"
    assert transaction.description == "top up"
    assert [(p.account_id, p.account, p.amount, p.balance_after) for p in transaction.postings] == [
        (system_account_id(EXTERNAL_FUNDING, "USD"), "system:external_funding", -2500, None),
        (wallet_id("alice", "USD"), "wallet:alice", 2500, 2500),
    ]
    assert written.position == log_position(app)
    assert wallet_state(app, *ALICE)[:3] == (2500, 0, 2500)


def test_a_transaction_can_be_read_back_by_id(funded: App) -> None:
    written = funded.wallets.debit_wallet(CALLER, "alice", 10, "USD", "coffee")

    assert funded.wallets.get_transaction(CALLER, written.value.id) == written.value


def test_reading_an_unknown_transaction_fails(funded: App) -> None:
    with pytest.raises(TransactionNotFoundError):
        funded.wallets.get_transaction(CALLER, uuid4())


def test_a_debit_pays_money_out_to_external_payouts(funded: App) -> None:
    written = funded.wallets.debit_wallet(CALLER, "alice", 400, "USD", "school trip")

    postings = written.value.postings
    assert [(p.account, p.amount, p.balance_after) for p in postings] == [
        ("wallet:alice", -400, 600),
        ("system:external_payouts", 400, None),
    ]
    assert postings[1].account_id == system_account_id(EXTERNAL_PAYOUTS, "USD")
    assert wallet_state(funded, *ALICE)[0] == 600


def test_rejects_a_debit_beyond_the_balance_and_changes_nothing(funded: App) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(InsufficientFundsError):
        funded.wallets.debit_wallet(CALLER, "alice", 1001, "USD")

    assert ledger_state(funded, ALICE) == before


def test_allows_a_debit_into_the_overdraft(funded: App) -> None:
    funded.wallets.debit_wallet(CALLER, "bob", 300, "USD")

    assert wallet_state(funded, *BOB)[:3] == (-300, 0, 0)


def test_rejects_debit_beyond_overdraft_limit(funded: App) -> None:
    before = ledger_state(funded, BOB)

    with pytest.raises(InsufficientFundsError):
        funded.wallets.debit_wallet(CALLER, "bob", 301, "USD")

    assert ledger_state(funded, BOB) == before


def test_a_transfer_moves_money_between_two_wallets_in_one_transaction(funded: App) -> None:
    position = log_position(funded)

    written = funded.wallets.transfer(CALLER, "alice", "bob", 250, "USD", "lunch")

    assert written.value.kind == "transfer"
    assert [(p.account, p.amount, p.balance_after) for p in written.value.postings] == [
        ("wallet:alice", -250, 750),
        ("wallet:bob", 250, 250),
    ]
    assert wallet_state(funded, *ALICE)[0] == 750
    assert wallet_state(funded, *BOB)[0] == 250
    # One journal entry and one posting per wallet: three events, one save.
    assert log_position(funded) == position + 3
    assert written.position == log_position(funded)


def test_a_transfer_may_use_the_sources_overdraft(funded: App) -> None:
    funded.wallets.transfer(CALLER, "bob", "alice", 300, "USD")

    assert wallet_state(funded, *BOB)[0] == -300
    assert wallet_state(funded, *ALICE)[0] == 1300


def test_rejects_a_transfer_beyond_the_available_balance_and_changes_nothing(
    funded: App,
) -> None:
    before = ledger_state(funded, ALICE, BOB)

    with pytest.raises(InsufficientFundsError):
        funded.wallets.transfer(CALLER, "alice", "bob", 1001, "USD")

    assert ledger_state(funded, ALICE, BOB) == before


def test_rejects_a_transfer_to_the_same_wallet_and_changes_nothing(funded: App) -> None:
    before = ledger_state(funded, ALICE)

    with pytest.raises(SameWalletTransferError) as caught:
        funded.wallets.transfer(CALLER, "alice", "alice", 10, "USD")

    assert caught.value.code == "same_wallet_transfer"
    assert ledger_state(funded, ALICE) == before


def test_rejects_a_transfer_to_a_wallet_in_another_currency_and_changes_nothing(
    funded: App,
) -> None:
    # Alice has no JPY wallet: the currency picks the wallet, so a mismatch is "not found".
    before = ledger_state(funded, ALICE, BOB, ("bob", "JPY"))

    with pytest.raises(WalletNotFoundError):
        funded.wallets.transfer(CALLER, "bob", "alice", 10, "JPY")
    with pytest.raises(WalletNotFoundError):
        funded.wallets.transfer(CALLER, "alice", "carol", 10, "USD")

    assert ledger_state(funded, ALICE, BOB, ("bob", "JPY")) == before


@pytest.mark.parametrize(
    ("customer_id", "currency", "error"),
    [
        ("carol", "USD", WalletNotFoundError),
        ("alice", "EUR", WalletNotFoundError),
        ("alice", "EURO", UnknownCurrencyError),
    ],
)
@pytest.mark.parametrize("operation", ["credit", "debit"])
def test_rejects_a_movement_on_a_missing_wallet_and_changes_nothing(
    funded: App, operation: str, customer_id: str, currency: str, error: type[Exception]
) -> None:
    before = ledger_state(funded, ALICE)
    wallets = funded.wallets
    move = wallets.credit_wallet if operation == "credit" else wallets.debit_wallet

    with pytest.raises(error):
        move(CALLER, customer_id, 10, currency)

    assert ledger_state(funded, ALICE) == before


@pytest.mark.parametrize("amount", [0, -10, True, 10.0])
@pytest.mark.parametrize("operation", ["credit", "debit", "transfer"])
def test_rejects_an_invalid_amount_and_changes_nothing(
    funded: App, operation: str, amount: Any
) -> None:
    moves: dict[str, Callable[[], object]] = {
        "credit": lambda: funded.wallets.credit_wallet(CALLER, "alice", amount, "USD"),
        "debit": lambda: funded.wallets.debit_wallet(CALLER, "alice", amount, "USD"),
        "transfer": lambda: funded.wallets.transfer(CALLER, "alice", "bob", amount, "USD"),
    }
    before = ledger_state(funded, ALICE, BOB)

    with pytest.raises(InvalidAmountError):
        moves[operation]()

    assert ledger_state(funded, ALICE, BOB) == before


def test_every_journal_entry_balances_and_wallets_equal_their_postings(funded: App) -> None:
    funded.wallets.transfer(CALLER, "alice", "bob", 600, "USD")
    funded.wallets.debit_wallet(CALLER, "bob", 850, "USD")
    funded.wallets.credit_wallet(CALLER, "bob", 7, "JPY")

    postings = journal_postings(funded)
    for currency in ("USD", "JPY"):
        assert sum(p.amount_minor for p in postings if p.currency == currency) == 0
    for customer, currency in (ALICE, BOB, ("bob", "JPY")):
        account_id = wallet_id(customer, currency)
        posted = sum(p.amount_minor for p in postings if p.account_id == account_id)
        assert posted == wallet_state(funded, customer, currency)[0]
