"""Queries on the read model: statements with cursors, and waiting for a log position."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from adapters.views.ledger_view import SqlLedgerView
from application.errors import InvalidCursorError, ViewNotCaughtUpError, WalletNotFoundError
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection
from application.queries import PAGE_SIZE_MAX, LedgerQueries, decode_cursor, encode_cursor
from application.readiness import ReadinessProbe
from tests.support.views import memory_ledger_view
from tests.unit.application.support import CALLER, App, log_position

pytestmark = pytest.mark.unit

SHORT_WAIT_S = 0.05


@pytest.fixture
def view() -> Iterator[SqlLedgerView]:
    view = memory_ledger_view()
    yield view
    view.close()


@pytest.fixture
def runner(app: App, view: SqlLedgerView) -> ProjectionRunner:
    return ProjectionRunner(app.ledger, LedgerProjection(view=view))


@pytest.fixture
def queries(app: App, view: SqlLedgerView) -> LedgerQueries:
    return LedgerQueries(app.runner, view, wait_timeout_s=SHORT_WAIT_S)


@pytest.fixture
def five_credits(app: App, runner: ProjectionRunner) -> App:
    """Alice's USD wallet with credits of 1, 2, 3, 4 and 5 (wallet versions 2 to 6)."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    for amount in range(1, 6):
        app.wallets.credit_wallet(CALLER, "alice", amount, "USD", f"credit {amount}")
    runner.catch_up()
    return app


def test_a_statement_lists_entries_newest_first_with_running_balances(
    five_credits: App, queries: LedgerQueries
) -> None:
    statement = queries.statement(CALLER, "alice", "USD")

    assert [e.amount for e in statement.entries] == [5, 4, 3, 2, 1]
    assert [e.balance_after for e in statement.entries] == [15, 10, 6, 3, 1]
    assert statement.entries[0].description == "credit 5"
    assert statement.next_cursor is None
    assert statement.wallet_id == five_credits.wallets.get_wallet(CALLER, "alice", "USD").id
    positions = [e.position for e in statement.entries]
    assert positions == sorted(positions, reverse=True)


def test_pages_through_a_statement_with_cursors(five_credits: App, queries: LedgerQueries) -> None:
    pages = []
    cursor = None
    for _ in range(10):  # bounded: 5 entries in pages of 2 take 3 pages
        page = queries.statement(CALLER, "alice", "USD", cursor=cursor, limit=2)
        pages.append([e.amount for e in page.entries])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [[5, 4], [3, 2], [1]]


def test_a_page_that_exactly_ends_the_statement_has_no_next_cursor(
    five_credits: App, queries: LedgerQueries
) -> None:
    assert queries.statement(CALLER, "alice", "USD", limit=5).next_cursor is None
    assert queries.statement(CALLER, "alice", "USD", limit=4).next_cursor is not None


@pytest.mark.parametrize(("limit", "size"), [(0, 1), (-5, 1), (10**6, 5)])
def test_the_page_size_is_clamped(
    five_credits: App, queries: LedgerQueries, limit: int, size: int
) -> None:
    assert len(queries.statement(CALLER, "alice", "USD", limit=limit).entries) == size
    assert PAGE_SIZE_MAX == 200


def test_cursors_round_trip() -> None:
    for sequence in (1, 2, 99, 10**12):
        assert decode_cursor(encode_cursor(sequence)) == sequence


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["not a cursor", "!!!", "é", b64("seq:0"), b64("seq:-3"), b64("seq:x"), b64("pos:5"), "%%%"],
)
def test_rejects_an_invalid_cursor(five_credits: App, queries: LedgerQueries, cursor: str) -> None:
    with pytest.raises(InvalidCursorError) as caught:
        queries.statement(CALLER, "alice", "USD", cursor=cursor)
    assert caught.value.code == "invalid_cursor"


def test_a_statement_of_a_missing_wallet_fails(five_credits: App, queries: LedgerQueries) -> None:
    with pytest.raises(WalletNotFoundError):
        queries.statement(CALLER, "alice", "EUR")


def test_wallets_of_a_customer_are_listed_by_currency(
    app: App, runner: ProjectionRunner, queries: LedgerQueries
) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "alice", "JPY")
    app.wallets.credit_wallet(CALLER, "alice", 300, "JPY")
    runner.catch_up()

    wallets = queries.wallets_of(CALLER, "alice").wallets

    assert [(w.currency, w.balance) for w in wallets] == [("JPY", 300), ("USD", 0)]
    with pytest.raises(WalletNotFoundError):
        queries.wallets_of(CALLER, "nobody")


def test_a_read_behind_the_requested_position_times_out_with_view_not_caught_up(
    five_credits: App, queries: LedgerQueries
) -> None:
    written = five_credits.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    assert written.position is not None

    with pytest.raises(ViewNotCaughtUpError) as caught:
        queries.statement(CALLER, "alice", "USD", min_position=written.position)
    with pytest.raises(ViewNotCaughtUpError):
        queries.balances(CALLER, min_position=written.position)

    assert caught.value.code == "view_not_caught_up"


def test_a_read_at_a_position_the_view_reached_answers_at_once(
    five_credits: App, queries: LedgerQueries, runner: ProjectionRunner
) -> None:
    written = five_credits.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    runner.catch_up()

    statement = queries.statement(CALLER, "alice", "USD", min_position=written.position)

    assert statement.entries[0].amount == 100


def test_a_read_waits_for_a_running_projection_to_reach_its_write(
    app: App, view: SqlLedgerView, runner: ProjectionRunner
) -> None:
    queries = LedgerQueries(app.runner, view, wait_timeout_s=5.0)
    app.wallets.open_wallet(CALLER, "alice", "USD")
    runner.start()
    try:
        written = app.wallets.credit_wallet(CALLER, "alice", 42, "USD")
        runner.wake()

        statement = queries.statement(CALLER, "alice", "USD", min_position=written.position)
    finally:
        runner.stop()

    assert [e.amount for e in statement.entries] == [42]


def test_readiness_reports_the_view_lag(
    five_credits: App, view: SqlLedgerView, runner: ProjectionRunner
) -> None:
    probe = ReadinessProbe(five_credits.ledger, {"ledger_view": view})
    ready = probe.check()
    assert (ready.ready, ready.view_lag) == (True, 0)

    five_credits.wallets.credit_wallet(CALLER, "alice", 1, "USD")
    lagging = probe.check(lag_max=0)

    assert lagging.ready is False
    assert lagging.view_lag == log_position(five_credits) - (ready.log_position or 0)
