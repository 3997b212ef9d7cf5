"""Opening and reading wallets."""

from __future__ import annotations

import pytest

from application.errors import IdempotencyKeyReusedError, WalletNotFoundError
from domain.account import Account
from domain.errors import (
    InvalidCustomerIdError,
    InvalidOverdraftLimitError,
    UnknownCurrencyError,
    WalletExistsError,
)
from domain.ids import wallet_id
from domain.request_claim import RequestClaim
from tests.unit.application.support import (
    CALLER,
    App,
    caller,
    count_events,
    ledger_state,
    log_position,
)

pytestmark = pytest.mark.unit


def test_opens_an_empty_wallet_and_returns_its_log_position(app: App) -> None:
    written = app.wallets.open_wallet(CALLER, "alice", "USD", overdraft_limit_minor=500)

    wallet = written.value
    assert wallet.id == wallet_id("alice", "USD")
    assert (wallet.customer_id, wallet.currency) == ("alice", "USD")
    assert (wallet.balance, wallet.held, wallet.available) == (0, 0, 500)
    assert wallet.overdraft_limit == 500
    assert wallet.version == 1
    assert written.position == log_position(app)
    assert written.replayed is False
    assert app.wallets.get_wallet(CALLER, "alice", "USD") == wallet


def test_a_customer_may_hold_one_wallet_per_currency(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "alice", "JPY")

    assert app.wallets.get_wallet(CALLER, "alice", "JPY").currency == "JPY"
    assert (
        app.wallets.get_wallet(CALLER, "alice", "USD").id
        != app.wallets.get_wallet(CALLER, "alice", "JPY").id
    )


def test_rejects_a_second_wallet_in_the_same_currency(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD", overdraft_limit_minor=100)
    before = ledger_state(app, ("alice", "USD"))

    with pytest.raises(WalletExistsError) as caught:
        app.wallets.open_wallet(CALLER, "alice", "USD", overdraft_limit_minor=999)

    assert caught.value.code == "wallet_exists"
    assert ledger_state(app, ("alice", "USD")) == before
    assert app.wallets.get_wallet(CALLER, "alice", "USD").overdraft_limit == 100


def test_a_new_idempotency_key_does_not_open_a_second_wallet(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD", idempotency_key="first")
    before = ledger_state(app, ("alice", "USD"))

    with pytest.raises(WalletExistsError):
        app.wallets.open_wallet(CALLER, "alice", "USD", idempotency_key="second")

    assert ledger_state(app, ("alice", "USD")) == before


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
    app: App, customer_id: str, currency: str, limit: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        app.wallets.open_wallet(CALLER, customer_id, currency, limit, idempotency_key="k")

    assert log_position(app) == 0


def test_reading_a_wallet_that_does_not_exist_fails(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")

    with pytest.raises(WalletNotFoundError) as caught:
        app.wallets.get_wallet(CALLER, "alice", "EUR")

    assert caught.value.code == "wallet_not_found"


def test_replaying_an_open_returns_the_same_wallet_and_writes_nothing(app: App) -> None:
    first = app.wallets.open_wallet(caller("alice"), "alice", "USD", 100, idempotency_key="open-1")
    position = log_position(app)

    again = app.wallets.open_wallet(caller("alice"), "alice", "USD", 100, idempotency_key="open-1")

    assert again.replayed is True
    assert again.value == first.value
    assert again.position is None
    assert log_position(app) == position
    assert count_events(app, Account.Opened) == 1
    assert count_events(app, RequestClaim.Claimed) == 1


def test_rejects_the_same_key_for_a_different_wallet_and_writes_nothing(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD", idempotency_key="open-1")
    position = log_position(app)

    with pytest.raises(IdempotencyKeyReusedError) as caught:
        app.wallets.open_wallet(CALLER, "alice", "EUR", idempotency_key="open-1")

    assert caught.value.code == "idempotency_key_reused"
    assert log_position(app) == position
    with pytest.raises(WalletNotFoundError):
        app.wallets.get_wallet(CALLER, "alice", "EUR")


def test_rejects_the_same_key_with_another_overdraft_limit(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD", 0, idempotency_key="open-1")
    position = log_position(app)

    with pytest.raises(IdempotencyKeyReusedError):
        app.wallets.open_wallet(CALLER, "alice", "USD", 50, idempotency_key="open-1")

    assert log_position(app) == position


def test_the_same_key_in_different_scopes_opens_different_wallets(app: App) -> None:
    app.wallets.open_wallet(caller("alice"), "alice", "USD", idempotency_key="k")
    bob = app.wallets.open_wallet(caller("bob"), "bob", "USD", idempotency_key="k")

    assert bob.replayed is False
    assert count_events(app, Account.Opened) == 2


def test_rejects_a_key_already_used_for_a_credit_when_opening_a_wallet(app: App) -> None:
    app.runner.retries_max = 2  # the bug retries until exhausted: keep the test fast
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 100, "USD", idempotency_key="k")
    position, conflicts = log_position(app), app.runner.conflicts

    with pytest.raises(IdempotencyKeyReusedError):
        app.wallets.open_wallet(CALLER, "bob", "USD", idempotency_key="k")

    assert log_position(app) == position
    assert app.runner.conflicts == conflicts


def test_rejects_a_fractional_overdraft_limit_and_writes_nothing(app: App) -> None:
    with pytest.raises(InvalidOverdraftLimitError):
        app.wallets.open_wallet(CALLER, "alice", "USD", overdraft_limit_minor=1.5)  # type: ignore[arg-type]

    assert log_position(app) == 0
