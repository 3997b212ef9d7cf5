"""The ledger projection: the read model derived from the log equals the event store."""

from __future__ import annotations

import pytest

from adapters.views.ledger_view import SqlLedgerView
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from domain.ids import system_account_id, wallet_id
from domain.journal import EXTERNAL_FUNDING, EXTERNAL_PAYOUTS
from tests.support.views import memory_ledger_view
from tests.unit.application.support import CALLER, App, log_position, replayed_balances

pytestmark = pytest.mark.unit


@pytest.fixture
def busy(app: App) -> App:
    """A few wallets, movements and holds in two currencies."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD", overdraft_limit_minor=50)
    app.wallets.open_wallet(CALLER, "carol", "JPY")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    app.wallets.credit_wallet(CALLER, "carol", 5000, "JPY")
    app.wallets.transfer(CALLER, "alice", "bob", 250, "USD")
    app.wallets.debit_wallet(CALLER, "bob", 300, "USD")
    hold = app.holds.place_hold(CALLER, "alice", 100, "USD").value
    app.holds.post_hold(CALLER, hold.id, 40, "bob")
    app.holds.place_hold(CALLER, "carol", 700, "JPY")
    return app


def view_balances(view: SqlLedgerView) -> dict[object, int]:
    return {b.account_id: b.balance for b in view.balances()}


def test_catch_up_projects_balances_equal_to_the_log_and_the_wallets(busy: App) -> None:
    view = memory_ledger_view()
    runner = ProjectionRunner(busy.ledger, LedgerProjection(view=view))

    applied = runner.catch_up()

    assert applied == log_position(busy)
    assert view.position() == log_position(busy)
    assert view_balances(view) == replayed_balances(busy)
    assert view_balances(view)[wallet_id("alice", "USD")] == 710
    assert view_balances(view)[wallet_id("bob", "USD")] == -10
    assert view_balances(view)[system_account_id(EXTERNAL_FUNDING, "USD")] == -1000
    assert view_balances(view)[system_account_id(EXTERNAL_PAYOUTS, "USD")] == 300
    for customer, currency in (("alice", "USD"), ("bob", "USD"), ("carol", "JPY")):
        (wallet,) = [w for w in view.wallets_of(customer) if w.currency == currency]
        assert wallet == busy.wallets.get_wallet(CALLER, customer, currency)


def test_catching_up_twice_applies_nothing_new(busy: App) -> None:
    view = memory_ledger_view()
    runner = ProjectionRunner(busy.ledger, LedgerProjection(view=view), batch_size=3)
    runner.catch_up()
    before = view_balances(view)

    assert runner.catch_up() == 0
    assert view_balances(view) == before


def test_two_runners_on_one_view_apply_each_event_once(busy: App) -> None:
    view = memory_ledger_view()
    first = ProjectionRunner(busy.ledger, LedgerProjection(view=view), batch_size=4)
    second = ProjectionRunner(busy.ledger, LedgerProjection(view=view), batch_size=4)

    first.run_once()
    second.catch_up()
    first.catch_up()

    assert view_balances(view) == replayed_balances(busy)


def test_a_reset_view_rebuilds_to_the_same_balances(busy: App) -> None:
    view = memory_ledger_view()
    runner = ProjectionRunner(busy.ledger, LedgerProjection(view=view))
    runner.catch_up()
    before = view_balances(view)

    view.reset()
    assert view.balances() == []
    runner.catch_up()

    assert view_balances(view) == before
