"""Object-level access in the use cases: a customer acts on what is theirs only; another
customer's object does not exist for them (not found, never forbidden: no existence leak);
admins act for anyone; auditors read everything and change nothing."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.charges import ChargeRequest
from application.errors import (
    ChargeNotFoundError,
    ForbiddenError,
    HoldNotFoundError,
    PaymentNotFoundError,
    TransactionNotFoundError,
    WalletNotFoundError,
)
from application.payments import PaymentRequest
from application.principal import Principal
from domain.money import Money
from domain.payment_terms import PaymentMethod
from domain.user import UserRole
from tests.unit.application.support import CALLER, App, ledger_state

ALICE = Principal("alice", frozenset({UserRole.CUSTOMER}))
BOB = Principal("bob", frozenset({UserRole.CUSTOMER}))
AUDITOR = Principal("auditor", frozenset({UserRole.AUDITOR}))


@pytest.fixture
def funded(app: App) -> App:
    """Alice and Bob, each with 1,000 USD (credited by an admin)."""
    for customer in ("alice", "bob"):
        app.wallets.open_wallet(ALICE if customer == "alice" else BOB, customer, "USD")
        app.wallets.credit_wallet(CALLER, customer, 1_000, "USD")
    return app


def wallet_payment(payer: str = "", amount: int = 100) -> PaymentRequest:
    return PaymentRequest(payer, "shop", amount, "USD", PaymentMethod.WALLET)


def test_a_customer_opens_their_own_wallets_only(app: App) -> None:
    app.wallets.open_wallet(ALICE, "alice", "EUR")

    with pytest.raises(ForbiddenError):
        app.wallets.open_wallet(ALICE, "bob", "EUR")


def test_a_customer_cannot_top_up_a_wallet_from_nowhere(funded: App) -> None:
    before = ledger_state(funded, ("alice", "USD"))

    with pytest.raises(ForbiddenError):
        funded.wallets.credit_wallet(ALICE, "alice", 10**15, "USD")

    assert ledger_state(funded, ("alice", "USD")) == before


def test_another_customers_wallet_does_not_exist_for_a_customer(funded: App) -> None:
    before = ledger_state(funded, ("alice", "USD"), ("bob", "USD"))

    for attempt in (
        lambda: funded.wallets.get_wallet(ALICE, "bob", "USD"),
        lambda: funded.wallets.debit_wallet(ALICE, "bob", 10, "USD"),
        lambda: funded.wallets.transfer(ALICE, "bob", "alice", 10, "USD"),
        lambda: funded.holds.place_hold(ALICE, "bob", 10, "USD"),
    ):
        with pytest.raises(WalletNotFoundError):
            attempt()

    assert ledger_state(funded, ("alice", "USD"), ("bob", "USD")) == before


def test_a_customer_moves_their_own_money(funded: App) -> None:
    funded.wallets.transfer(ALICE, "alice", "bob", 100, "USD")
    funded.wallets.debit_wallet(ALICE, "alice", 50, "USD")

    assert funded.wallets.get_wallet(ALICE, "alice", "USD").balance == 850
    assert funded.wallets.get_wallet(BOB, "bob", "USD").balance == 1_100


def test_another_customers_hold_does_not_exist_for_a_customer(funded: App) -> None:
    hold = funded.holds.place_hold(BOB, "bob", 300, "USD").value
    before = ledger_state(funded, ("alice", "USD"), ("bob", "USD"))

    with pytest.raises(HoldNotFoundError):
        funded.holds.get_hold(ALICE, hold.id)
    with pytest.raises(HoldNotFoundError):
        funded.holds.post_hold(ALICE, hold.id, to_customer_id="alice")
    with pytest.raises(HoldNotFoundError):
        funded.holds.void_hold(ALICE, hold.id)

    assert ledger_state(funded, ("alice", "USD"), ("bob", "USD")) == before
    assert funded.holds.get_hold(BOB, hold.id).status == "PENDING"


def test_a_customer_pays_as_themself_whatever_the_request_says(funded: App) -> None:
    with pytest.raises(WalletNotFoundError):
        funded.payments.create_payment(ALICE, wallet_payment(payer="bob"))

    paid = funded.payments.create_payment(ALICE, wallet_payment()).value

    assert paid.payer_id == "alice"
    assert funded.payments.get_payment(ALICE, paid.id).id == paid.id


def test_another_customers_payment_does_not_exist_for_a_customer(funded: App) -> None:
    paid = funded.payments.create_payment(BOB, wallet_payment()).value
    funded.settlement.advance(paid.id)

    for attempt in (
        lambda: funded.payments.get_payment(ALICE, paid.id),
        lambda: funded.payments.retry_payment(ALICE, paid.id),
        lambda: funded.refunds.refund_payment(ALICE, paid.id, 10),
    ):
        with pytest.raises(PaymentNotFoundError):
            attempt()


def test_refunds_are_the_merchants_not_the_payers(funded: App) -> None:
    paid = funded.payments.create_payment(ALICE, wallet_payment()).value
    funded.settlement.advance(paid.id)
    before = ledger_state(funded, ("alice", "USD"))

    with pytest.raises(ForbiddenError):
        funded.refunds.refund_payment(ALICE, paid.id, 10)

    assert ledger_state(funded, ("alice", "USD")) == before
    refunded = funded.refunds.refund_payment(CALLER, paid.id, 10).value
    assert funded.payments.get_payment(ALICE, paid.id).refunded == refunded.refunded == 10


def test_another_customers_charge_does_not_exist_for_a_customer(funded: App) -> None:
    charge = ChargeRequest("bob", "shop", Money(100, "USD"))
    with pytest.raises(WalletNotFoundError):
        funded.charges.create_charge(ALICE, charge)

    made = funded.charges.create_charge(BOB, charge).value

    with pytest.raises(ChargeNotFoundError):
        funded.charges.get_charge(ALICE, made.id)
    assert funded.charges.get_charge(BOB, made.id).id == made.id


def test_a_customer_sees_transactions_on_their_own_wallets_only(funded: App) -> None:
    bobs = funded.wallets.debit_wallet(BOB, "bob", 10, "USD").value
    shared = funded.wallets.transfer(BOB, "bob", "alice", 10, "USD").value

    with pytest.raises(TransactionNotFoundError):
        funded.wallets.get_transaction(ALICE, bobs.id)
    assert funded.wallets.get_transaction(ALICE, shared.id).id == shared.id
    assert funded.wallets.get_transaction(AUDITOR, bobs.id).id == bobs.id


def test_auditors_read_everything_and_change_nothing(funded: App) -> None:
    paid = funded.payments.create_payment(BOB, wallet_payment()).value
    funded.settlement.advance(paid.id)
    before = ledger_state(funded, ("alice", "USD"), ("bob", "USD"))

    assert funded.wallets.get_wallet(AUDITOR, "bob", "USD").balance == 900
    assert funded.payments.get_payment(AUDITOR, paid.id).id == paid.id
    with pytest.raises(ForbiddenError):
        funded.wallets.credit_wallet(AUDITOR, "bob", 1, "USD")
    with pytest.raises(ForbiddenError):
        funded.refunds.refund_payment(AUDITOR, paid.id, 1)
    with pytest.raises(ForbiddenError):
        funded.payments.retry_payment(AUDITOR, paid.id)

    assert ledger_state(funded, ("alice", "USD"), ("bob", "USD")) == before


def test_idempotency_keys_never_cross_customers(funded: App) -> None:
    alices = funded.wallets.debit_wallet(ALICE, "alice", 10, "USD", idempotency_key="k").value
    bobs = funded.wallets.debit_wallet(BOB, "bob", 20, "USD", idempotency_key="k").value

    assert alices.id != bobs.id
    assert isinstance(alices.id, UUID)
    assert funded.wallets.get_wallet(BOB, "bob", "USD").balance == 980
