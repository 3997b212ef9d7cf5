"""Opening and reading wallets."""

from __future__ import annotations

import pytest

from application.ledger import Ledger
from domain.account import Account
from domain.errors import (
    IdempotencyKeyReusedError,
    InvalidCustomerIdError,
    InvalidOverdraftLimitError,
    UnknownCurrencyError,
    WalletExistsError,
    WalletNotFoundError,
)
from domain.ids import wallet_id
from domain.request_claim import RequestClaim
from tests.unit.application.support import count_events, ledger_state, log_position

pytestmark = pytest.mark.unit


def test_opens_an_empty_wallet_and_returns_its_log_position(ledger: Ledger) -> None:
    written = ledger.open_wallet("alice", "USD", overdraft_limit_minor=500)

    wallet = written.value
    assert wallet.id == wallet_id("alice", "USD")
    assert (wallet.customer_id, wallet.currency) == ("alice", "USD")
    assert (wallet.balance, wallet.held, wallet.available) == (0, 0, 500)
    assert wallet.overdraft_limit == 500
    assert wallet.version == 1
    assert written.position == log_position(ledger)
    assert written.replayed is False
    assert ledger.get_wallet("alice", "USD") == wallet


def test_a_customer_may_hold_one_wallet_per_currency(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")
    ledger.open_wallet("alice", "JPY")

    assert ledger.get_wallet("alice", "JPY").currency == "JPY"
    assert ledger.get_wallet("alice", "USD").id != ledger.get_wallet("alice", "JPY").id


def test_rejects_a_second_wallet_in_the_same_currency(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD", overdraft_limit_minor=100)
    before = ledger_state(ledger, ("alice", "USD"))

    with pytest.raises(WalletExistsError) as caught:
        ledger.open_wallet("alice", "USD", overdraft_limit_minor=999)

    assert caught.value.code == "wallet_exists"
    assert ledger_state(ledger, ("alice", "USD")) == before
    assert ledger.get_wallet("alice", "USD").overdraft_limit == 100


def test_a_new_idempotency_key_does_not_open_a_second_wallet(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD", idempotency_key="first")
    before = ledger_state(ledger, ("alice", "USD"))

    with pytest.raises(WalletExistsError):
        ledger.open_wallet("alice", "USD", idempotency_key="second")

    assert ledger_state(ledger, ("alice", "USD")) == before


@pytest.mark.parametrize(
    ("customer_id", "currency", "limit", "error"),
    [
        ("alice", "XYZ", 0, UnknownCurrencyError),
        ("", "USD", 0, InvalidCustomerIdError),
        ("bad\nid", "USD", 0, InvalidCustomerIdError),
        ("alice", "USD", -1, InvalidOverdraftLimitError),
    ],
)
def test_rejects_an_invalid_wallet_and_writes_nothing(
    ledger: Ledger, customer_id: str, currency: str, limit: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ledger.open_wallet(customer_id, currency, limit, idempotency_key="k")

    assert log_position(ledger) == 0


def test_reading_a_wallet_that_does_not_exist_fails(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")

    with pytest.raises(WalletNotFoundError) as caught:
        ledger.get_wallet("alice", "EUR")

    assert caught.value.code == "wallet_not_found"


def test_replaying_an_open_returns_the_same_wallet_and_writes_nothing(ledger: Ledger) -> None:
    first = ledger.open_wallet("alice", "USD", 100, idempotency_key="open-1", scope="alice")
    position = log_position(ledger)

    again = ledger.open_wallet("alice", "USD", 100, idempotency_key="open-1", scope="alice")

    assert again.replayed is True
    assert again.value == first.value
    assert again.position is None
    assert log_position(ledger) == position
    assert count_events(ledger, Account.Opened) == 1
    assert count_events(ledger, RequestClaim.Claimed) == 1


def test_rejects_the_same_key_for_a_different_wallet_and_writes_nothing(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD", idempotency_key="open-1")
    position = log_position(ledger)

    with pytest.raises(IdempotencyKeyReusedError) as caught:
        ledger.open_wallet("alice", "EUR", idempotency_key="open-1")

    assert caught.value.code == "idempotency_key_reused"
    assert log_position(ledger) == position
    with pytest.raises(WalletNotFoundError):
        ledger.get_wallet("alice", "EUR")


def test_rejects_the_same_key_with_another_overdraft_limit(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD", 0, idempotency_key="open-1")
    position = log_position(ledger)

    with pytest.raises(IdempotencyKeyReusedError):
        ledger.open_wallet("alice", "USD", 50, idempotency_key="open-1")

    assert log_position(ledger) == position


def test_the_same_key_in_different_scopes_opens_different_wallets(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD", idempotency_key="k", scope="alice")
    bob = ledger.open_wallet("bob", "USD", idempotency_key="k", scope="bob")

    assert bob.replayed is False
    assert count_events(ledger, Account.Opened) == 2


def test_rejects_a_key_already_used_for_a_credit_when_opening_a_wallet(ledger: Ledger) -> None:
    ledger.retries_max = 2  # the bug retries until exhausted: keep the test fast
    ledger.open_wallet("alice", "USD")
    ledger.credit_wallet("alice", 100, "USD", idempotency_key="k")
    position, conflicts = log_position(ledger), ledger.conflicts

    with pytest.raises(IdempotencyKeyReusedError):
        ledger.open_wallet("bob", "USD", idempotency_key="k")

    assert log_position(ledger) == position
    assert ledger.conflicts == conflicts


def test_rejects_a_fractional_overdraft_limit_and_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(InvalidOverdraftLimitError):
        ledger.open_wallet("alice", "USD", overdraft_limit_minor=1.5)  # type: ignore[arg-type]

    assert log_position(ledger) == 0
