"""Account: a wallet's balance, overdraft limit and holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.account import Account, HeldFunds
from domain.errors import (
    CurrencyMismatchError,
    HoldAmountExceededError,
    HoldNotPendingError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidCustomerIdError,
    InvalidOverdraftLimitError,
    UnknownCurrencyError,
)
from domain.ids import wallet_id
from domain.money import AMOUNT_MINOR_MAX

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def opened(balance_minor: int = 0, overdraft_limit_minor: int = 0) -> Account:
    """A USD wallet with a starting balance and no pending events."""
    account = Account.open("alice", "USD", overdraft_limit_minor)
    if balance_minor:
        account.credit(balance_minor, "USD", uuid4(), "credit", "top up")
    account.collect_events()
    return account


def state(account: Account) -> tuple[int, int, dict[str, HeldFunds]]:
    return account.balance_minor, account.version, dict(account.holds)


def assert_unchanged(account: Account, before: tuple[int, int, dict[str, HeldFunds]]) -> None:
    assert state(account) == before
    assert account.collect_events() == []


# Opening.


def test_opens_an_empty_wallet_named_by_customer_and_currency() -> None:
    account = Account.open("alice", "JPY", overdraft_limit_minor=500)

    assert account.id == wallet_id("alice", "JPY")
    assert (account.customer_id, account.currency) == ("alice", "JPY")
    assert account.balance_minor == 0
    assert account.overdraft_limit_minor == 500
    assert account.available_minor(NOW) == 500
    assert [type(e) for e in account.collect_events()] == [Account.Opened]


def test_rejects_opening_a_wallet_in_an_unknown_currency() -> None:
    with pytest.raises(UnknownCurrencyError):
        Account.open("alice", "ZZZ")


def test_rejects_opening_a_wallet_for_an_invalid_customer_id() -> None:
    with pytest.raises(InvalidCustomerIdError):
        Account.open("", "USD")


@pytest.mark.parametrize("limit", [-1, AMOUNT_MINOR_MAX + 1])
def test_rejects_a_negative_or_excessive_overdraft_limit(limit: int) -> None:
    with pytest.raises(InvalidOverdraftLimitError) as caught:
        Account.open("alice", "USD", overdraft_limit_minor=limit)
    assert caught.value.code == "invalid_overdraft_limit"


@pytest.mark.parametrize("limit", [1.5, True])
def test_rejects_an_overdraft_limit_that_is_not_an_integer(limit: object) -> None:
    with pytest.raises(InvalidOverdraftLimitError):
        Account.open("alice", "USD", overdraft_limit_minor=limit)  # type: ignore[arg-type]


# Credit and debit.


def test_credit_adds_to_the_balance_and_returns_it() -> None:
    account = opened()
    transaction_id = uuid4()

    after = account.credit(2500, "USD", transaction_id, "credit", "top up")

    assert after == 2500
    assert account.balance_minor == 2500
    (posted,) = account.collect_events()
    assert isinstance(posted, Account.Posted)
    assert (posted.transaction_id, posted.amount_minor, posted.balance_after_minor) == (
        transaction_id,
        2500,
        2500,
    )


def test_debit_takes_money_out_and_records_a_negative_posting() -> None:
    account = opened(balance_minor=1000)

    after = account.debit(400, "USD", uuid4(), "debit", "pay", NOW)

    assert after == 600
    (posted,) = account.collect_events()
    assert isinstance(posted, Account.Posted)
    assert posted.amount_minor == -400


def test_allows_a_debit_of_the_whole_balance() -> None:
    account = opened(balance_minor=1000)

    assert account.debit(1000, "USD", uuid4(), "debit", "", NOW) == 0


def test_rejects_a_debit_beyond_the_balance_without_overdraft() -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    with pytest.raises(InsufficientFundsError) as caught:
        account.debit(1001, "USD", uuid4(), "debit", "", NOW)

    assert caught.value.code == "insufficient_funds"
    assert_unchanged(account, before)


def test_allows_a_debit_into_the_overdraft_down_to_its_limit() -> None:
    account = opened(balance_minor=100, overdraft_limit_minor=500)

    assert account.debit(600, "USD", uuid4(), "debit", "", NOW) == -500
    assert account.available_minor(NOW) == 0


def test_rejects_debit_beyond_overdraft_limit() -> None:
    account = opened(balance_minor=100, overdraft_limit_minor=500)
    before = state(account)

    with pytest.raises(InsufficientFundsError):
        account.debit(601, "USD", uuid4(), "debit", "", NOW)

    assert_unchanged(account, before)


def attempts(account: Account, amount: Any, currency: str) -> dict[str, Callable[[], object]]:
    """Each money command on the account, ready to run with the given amount and currency."""
    return {
        "credit": lambda: account.credit(amount, currency, uuid4(), "credit", ""),
        "debit": lambda: account.debit(amount, currency, uuid4(), "debit", "", NOW),
        "hold": lambda: account.place_hold(uuid4(), amount, currency, None, NOW),
    }


@pytest.mark.parametrize("operation", ["credit", "debit", "hold"])
def test_rejects_a_posting_in_another_currency(operation: str) -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    with pytest.raises(CurrencyMismatchError):
        attempts(account, 10, "EUR")[operation]()

    assert_unchanged(account, before)


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, AMOUNT_MINOR_MAX + 1])
@pytest.mark.parametrize("operation", ["credit", "debit", "hold"])
def test_rejects_an_invalid_amount(operation: str, amount: Any) -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    with pytest.raises(InvalidAmountError):
        attempts(account, amount, "USD")[operation]()

    assert_unchanged(account, before)


# Holds.


def test_a_hold_reduces_the_available_balance_but_not_the_balance() -> None:
    account = opened(balance_minor=1000)

    account.place_hold(uuid4(), 300, "USD", None, NOW)

    assert account.balance_minor == 1000
    assert account.held_minor(NOW) == 300
    assert account.available_minor(NOW) == 700


def test_a_debit_cannot_spend_money_reserved_by_a_hold() -> None:
    account = opened(balance_minor=1000)
    account.place_hold(uuid4(), 300, "USD", None, NOW)
    account.collect_events()
    before = state(account)

    with pytest.raises(InsufficientFundsError):
        account.debit(701, "USD", uuid4(), "debit", "", NOW)

    assert_unchanged(account, before)
    assert account.debit(700, "USD", uuid4(), "debit", "", NOW) == 300


def test_rejects_a_hold_beyond_the_available_balance() -> None:
    account = opened(balance_minor=1000, overdraft_limit_minor=100)
    account.place_hold(uuid4(), 600, "USD", None, NOW)
    account.collect_events()
    before = state(account)

    with pytest.raises(InsufficientFundsError):
        account.place_hold(uuid4(), 501, "USD", None, NOW)

    assert_unchanged(account, before)


def test_rejects_a_hold_in_another_currency() -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    with pytest.raises(CurrencyMismatchError):
        account.place_hold(uuid4(), 10, "EUR", None, NOW)

    assert_unchanged(account, before)


def test_an_expired_hold_stops_counting_even_before_it_is_released() -> None:
    account = opened(balance_minor=1000)
    account.place_hold(uuid4(), 300, "USD", NOW + timedelta(minutes=5), NOW)

    assert account.held_minor(NOW + timedelta(minutes=5) - timedelta(microseconds=1)) == 300
    # Expiry is inclusive: at the expiry instant the money is free again.
    assert account.held_minor(NOW + timedelta(minutes=5)) == 0
    assert account.available_minor(NOW + timedelta(minutes=5)) == 1000


def test_a_debit_releases_expired_holds_and_records_why() -> None:
    account = opened(balance_minor=1000)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", NOW + timedelta(minutes=5), NOW)
    account.collect_events()
    later = NOW + timedelta(minutes=6)

    assert account.debit(1000, "USD", uuid4(), "debit", "", later) == 0

    released, posted = account.collect_events()
    assert isinstance(released, Account.HoldReleased)
    assert (released.hold_id, released.amount_minor, released.reason) == (hold_id, 300, "expired")
    assert isinstance(posted, Account.Posted)
    assert account.holds == {}


def test_release_of_expired_holds_leaves_live_holds_alone() -> None:
    account = opened(balance_minor=1000)
    live, lapsed = uuid4(), uuid4()
    account.place_hold(live, 100, "USD", None, NOW)
    account.place_hold(lapsed, 200, "USD", NOW + timedelta(seconds=1), NOW)

    account.release_expired_holds(NOW + timedelta(seconds=1))

    assert set(account.holds) == {str(live)}
    assert account.held_minor(NOW + timedelta(days=1)) == 100


def test_captures_part_of_a_hold_and_releases_the_rest() -> None:
    account = opened(balance_minor=1000)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", None, NOW)
    account.collect_events()

    after = account.capture_hold(hold_id, 120, uuid4(), "capture")

    assert after == 880
    assert account.held_minor(NOW) == 0
    assert account.available_minor(NOW) == 880
    released, posted = account.collect_events()
    assert isinstance(released, Account.HoldReleased)
    assert (released.amount_minor, released.reason) == (300, "posted")
    assert isinstance(posted, Account.Posted)
    assert (posted.amount_minor, posted.kind) == (-120, "hold_capture")


def test_capture_uses_money_already_reserved_even_within_the_overdraft() -> None:
    account = opened(balance_minor=100, overdraft_limit_minor=200)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", None, NOW)

    assert account.capture_hold(hold_id, 300, uuid4(), "") == -200


def test_rejects_capturing_more_than_was_held() -> None:
    account = opened(balance_minor=1000)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", None, NOW)
    account.collect_events()
    before = state(account)

    with pytest.raises(HoldAmountExceededError) as caught:
        account.capture_hold(hold_id, 301, uuid4(), "")

    assert caught.value.code == "hold_amount_exceeded"
    assert_unchanged(account, before)


def test_rejects_capturing_an_unknown_hold() -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    with pytest.raises(HoldNotPendingError):
        account.capture_hold(uuid4(), 10, uuid4(), "")

    assert_unchanged(account, before)


def test_rejects_capturing_a_zero_amount() -> None:
    account = opened(balance_minor=1000)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", None, NOW)
    account.collect_events()
    before = state(account)

    with pytest.raises(InvalidAmountError):
        account.capture_hold(hold_id, 0, uuid4(), "")

    assert_unchanged(account, before)


def test_voiding_a_hold_frees_its_money() -> None:
    account = opened(balance_minor=1000)
    hold_id = uuid4()
    account.place_hold(hold_id, 300, "USD", None, NOW)
    account.collect_events()

    account.void_hold(hold_id, "customer cancelled")

    assert account.available_minor(NOW) == 1000
    (released,) = account.collect_events()
    assert isinstance(released, Account.HoldReleased)
    assert released.reason == "customer cancelled"


def test_voiding_a_hold_that_already_lapsed_records_nothing() -> None:
    account = opened(balance_minor=1000)
    before = state(account)

    account.void_hold(UUID(int=7), "gone")

    assert_unchanged(account, before)
