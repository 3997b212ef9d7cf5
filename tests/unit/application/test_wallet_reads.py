"""A customer's wallets are read from the log: a client sees its own writes at once.

Opening a wallet lists its currency in the customer's `WalletDirectory` in the same save;
reading the customer's wallets reads that directory and each wallet from the log, so neither
a just-opened wallet nor a just-made credit waits for the read model. Wallets opened before
directories existed are still found: the read model names them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from adapters.views.ledger_view import SqlLedgerView
from application.errors import WalletNotFoundError
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from application.queries import LedgerQueries
from application.wallets import WalletService
from domain.account import Account
from domain.errors import UnknownCurrencyError
from domain.ids import wallet_directory_id
from domain.wallet_directory import WalletDirectory
from tests.support.views import memory_ledger_view
from tests.unit.application.support import CALLER, App, count_events, read_log

pytestmark = pytest.mark.unit


@pytest.fixture
def view() -> Iterator[SqlLedgerView]:
    view = memory_ledger_view()
    yield view
    view.close()


@pytest.fixture
def queries(app: App, view: SqlLedgerView) -> LedgerQueries:
    """Queries over a read model that nothing feeds: it stays empty."""
    return LedgerQueries(app.runner, view, wait_timeout_s=0.05)


def test_a_wallet_just_opened_and_credited_is_read_at_once_without_the_read_model(
    app: App, queries: LedgerQueries, view: SqlLedgerView
) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    assert [w.balance for w in queries.wallets_of(CALLER, "alice").wallets] == [0]

    app.wallets.credit_wallet(CALLER, "alice", 2_500, "USD")
    app.wallets.open_wallet(CALLER, "alice", "EUR")

    wallets = queries.wallets_of(CALLER, "alice").wallets
    assert [(w.currency, w.balance) for w in wallets] == [("EUR", 0), ("USD", 2_500)]
    assert wallets[1] == app.wallets.get_wallet(CALLER, "alice", "USD")
    assert view.wallets_of("alice") == []  # the read model never saw any of it


def test_every_wallet_is_listed_in_the_save_that_opens_it(app: App) -> None:
    first = app.wallets.open_wallet(CALLER, "alice", "USD").position
    second = app.wallets.open_wallet(CALLER, "alice", "JPY").position

    log = read_log(app)
    kinds = [type(event).__qualname__ for _, event in log]
    assert kinds == [
        "Account.Opened",
        "WalletDirectory.Started",
        "WalletDirectory.WalletListed",
        "Account.Opened",
        "WalletDirectory.WalletListed",
    ]
    # Each save ends with the directory's event: the position a write returns covers both.
    assert (first, second) == (log[2][0], log[4][0])
    directory = app.runner.read(WalletDirectory, wallet_directory_id("alice"), WalletNotFoundError)
    assert directory.currencies == ("USD", "JPY")
    assert count_events(app, WalletDirectory.WalletListed) == 2


def test_a_wallet_that_could_not_be_opened_is_not_listed(app: App, queries: LedgerQueries) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    with pytest.raises(UnknownCurrencyError):
        app.wallets.open_wallet(CALLER, "alice", "XYZ")
    assert [w.currency for w in queries.wallets_of(CALLER, "alice").wallets] == ["USD"]
    with pytest.raises(WalletNotFoundError):
        queries.wallets_of(CALLER, "nobody")


def test_wallets_opened_before_directories_existed_are_still_found(
    app: App, queries: LedgerQueries, view: SqlLedgerView
) -> None:
    # A wallet saved the old way (no directory), then projected long ago.
    old = Account.open("carol", "GBP")
    app.ledger.save(old)
    ProjectionRunner(app.ledger, LedgerProjection(view=view)).catch_up()
    app.wallets.credit_wallet(CALLER, "carol", 700, "GBP")  # not projected yet
    app.wallets.open_wallet(CALLER, "carol", "USD")  # starts a directory without GBP

    wallets = queries.wallets_of(CALLER, "carol").wallets

    assert [(w.currency, w.balance) for w in wallets] == [("GBP", 700), ("USD", 0)]


def test_a_wallet_opened_without_a_currency_takes_the_default(app: App) -> None:
    euro = WalletService(app.runner, default_currency="EUR")

    opened = euro.open_wallet(CALLER, "dora").value
    default = app.wallets.open_wallet(CALLER, "dora").value

    assert (opened.currency, default.currency) == ("EUR", "USD")
    with pytest.raises(UnknownCurrencyError):
        WalletService(app.runner, default_currency="XYZ")


def test_wallets_opened_at_once_in_several_currencies_are_all_listed(
    app: App, queries: LedgerQueries
) -> None:
    currencies = ["USD", "EUR", "JPY", "GBP", "CHF", "SEK"]
    start = threading.Barrier(len(currencies))

    def open_one(currency: str) -> None:
        start.wait()
        app.wallets.open_wallet(CALLER, "erin", currency)

    threads = [threading.Thread(target=open_one, args=(c,)) for c in currencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    listed = [w.currency for w in queries.wallets_of(CALLER, "erin").wallets]
    assert listed == sorted(currencies)
