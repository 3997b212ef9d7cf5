"""One contract for the ledger read model on every backend: in memory, SQLite and PostgreSQL.

Each test runs against all three; the end-to-end tests then run the real
`LedgerProjection` over a real `Ledger` log on each SQL backend.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.clock import SystemClock
from adapters.views.factory import open_ledger_view, open_view_database
from application.ledger import Ledger
from application.projections import LedgerProjection, LedgerViewRecorder
from application.results import AccountBalance, StatementEntry, Wallet
from domain.ids import wallet_id
from tests.support.services import POSTGRES, postgres_schema
from tests.support.views import postgres_connection
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration

APP = "payledger"
MAPPER_TOPIC = "adapters.eventstore.msgspec_mapper:MsgspecMapper"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ALICE_EUR = UUID("00000000-0000-4000-8000-00000000a001")
ALICE_USD = UUID("00000000-0000-4000-8000-00000000a002")
BOB_EUR = UUID("00000000-0000-4000-8000-00000000b001")
FUNDING_EUR = UUID("00000000-0000-4000-8000-0000000f0001")
PAYOUTS_EUR = UUID("00000000-0000-4000-8000-0000000f0002")
TIMEOUT_S = 5.0
PAGE_SIZE_MAX = 1000


# Backends.


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def view(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerViewRecorder]:
    if request.param == "memory":
        memory_view = open_ledger_view(open_view_database("memory"), application_name=APP)
        yield memory_view
        memory_view.close()
    elif request.param == "sqlite":
        sqlite_database = open_view_database("sqlite", sqlite_path=tmp_path / "view.db")
        sqlite_view = open_ledger_view(sqlite_database, application_name=APP)
        yield sqlite_view
        sqlite_view.close()
    else:
        with postgres_schema() as schema:
            pg_database = open_view_database("postgres", postgres=postgres_connection(schema))
            pg_view = open_ledger_view(pg_database, application_name=APP)
            try:
                yield pg_view
            finally:
                pg_view.close()


def _t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _balances(view: LedgerViewRecorder) -> list[AccountBalance]:
    # The order of balances() is not part of the contract.
    return sorted(view.balances(), key=lambda b: (b.account, b.currency, str(b.account_id)))


def _state(view: LedgerViewRecorder) -> tuple[Any, ...]:
    """Everything the view shows, to assert that a failed write changed nothing."""
    return (
        view.wallets_of("alice"),
        view.wallets_of("bob"),
        view.statement(ALICE_EUR, None, PAGE_SIZE_MAX),
        view.statement(BOB_EUR, None, PAGE_SIZE_MAX),
        _balances(view),
        view.position(),
    )


def _entry(sequence: int, amount: int, balance_after: int, position: int) -> StatementEntry:
    return StatementEntry(
        sequence,
        UUID(int=sequence),
        "credit" if amount > 0 else "debit",
        amount,
        balance_after,
        f"entry {sequence}",
        _t(sequence),
        position,
    )


def _record_entry(view: LedgerViewRecorder, account_id: UUID, entry: StatementEntry) -> None:
    view.record_wallet_entry(
        account_id,
        entry.sequence,
        entry.transaction_id,
        entry.kind,
        entry.amount,
        entry.balance_after,
        entry.description,
        entry.posted_at,
        Tracking(APP, entry.position),
    )


def _populate(view: LedgerViewRecorder) -> None:
    """Two wallets of alice, one of bob, two entries, a hold and system postings (1-8)."""
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 500, _t(1), Tracking(APP, 1))
    view.record_wallet_opened(ALICE_USD, "alice", "USD", 0, _t(2), Tracking(APP, 2))
    view.record_wallet_opened(BOB_EUR, "bob", "EUR", 0, _t(3), Tracking(APP, 3))
    _record_entry(view, ALICE_EUR, _entry(2, 1000, 1000, 4))
    view.record_system_postings([(FUNDING_EUR, "system:funding", "EUR", -1000)], Tracking(APP, 5))
    _record_entry(view, ALICE_EUR, _entry(3, -300, 700, 6))
    view.record_system_postings([(PAYOUTS_EUR, "system:payouts", "EUR", 300)], Tracking(APP, 7))
    view.record_held_change(ALICE_EUR, 4, 200, _t(4), Tracking(APP, 8))


# The contract.


def test_lists_opened_wallets_of_a_customer_by_currency(view: LedgerViewRecorder) -> None:
    view.record_wallet_opened(ALICE_USD, "alice", "USD", 0, _t(2), Tracking(APP, 1))
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 500, _t(1), Tracking(APP, 2))

    assert view.wallets_of("alice") == [
        Wallet(
            ALICE_EUR,
            "alice",
            "EUR",
            balance=0,
            held=0,
            available=500,
            overdraft_limit=500,
            version=1,
            updated_at=_t(1),
        ),
        Wallet(
            ALICE_USD,
            "alice",
            "USD",
            balance=0,
            held=0,
            available=0,
            overdraft_limit=0,
            version=1,
            updated_at=_t(2),
        ),
    ]
    assert view.wallets_of("bob") == []
    assert view.statement(ALICE_EUR, None, 10) == []


def test_entries_set_the_balance_and_page_newest_first(view: LedgerViewRecorder) -> None:
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
    entries = [
        _entry(2, 1000, 1000, 3),
        _entry(3, -250, 750, 5),
        _entry(4, 40, 790, 8),
        _entry(5, -90, 700, 9),
        _entry(6, 5, 705, 12),
    ]
    for entry in entries:
        _record_entry(view, ALICE_EUR, entry)

    [wallet] = view.wallets_of("alice")
    assert (wallet.balance, wallet.available, wallet.version) == (705, 705, 6)
    assert wallet.updated_at == _t(6)
    newest_first = entries[::-1]
    assert view.statement(ALICE_EUR, None, 100) == newest_first
    assert view.statement(ALICE_EUR, None, 2) == newest_first[:2]
    assert view.statement(ALICE_EUR, 5, 2) == newest_first[2:4]
    assert view.statement(ALICE_EUR, 3, 2) == newest_first[4:]
    assert view.statement(ALICE_EUR, 2, 2) == []
    assert view.statement(ALICE_EUR, None, 0) == []
    assert view.statement(BOB_EUR, None, 10) == []


def test_held_changes_add_up_and_reduce_available(view: LedgerViewRecorder) -> None:
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 100, _t(1), Tracking(APP, 1))
    _record_entry(view, ALICE_EUR, _entry(2, 1000, 1000, 2))
    view.record_held_change(ALICE_EUR, 3, 300, _t(3), Tracking(APP, 3))
    view.record_held_change(ALICE_EUR, 4, 50, _t(4), Tracking(APP, 4))
    view.record_held_change(ALICE_EUR, 5, -300, _t(5), Tracking(APP, 5))

    [wallet] = view.wallets_of("alice")
    assert (wallet.balance, wallet.held, wallet.available) == (1000, 50, 1050)
    assert (wallet.version, wallet.updated_at) == (5, _t(5))
    assert len(view.statement(ALICE_EUR, None, 10)) == 1  # holds are not statement entries


def test_system_postings_accumulate_per_account(view: LedgerViewRecorder) -> None:
    view.record_system_postings(
        [
            (FUNDING_EUR, "system:funding", "EUR", -1000),
            (PAYOUTS_EUR, "system:payouts", "EUR", 400),
        ],
        Tracking(APP, 1),
    )
    view.record_system_postings([(FUNDING_EUR, "system:funding", "EUR", -500)], Tracking(APP, 2))

    assert _balances(view) == [
        AccountBalance(FUNDING_EUR, "system:funding", "EUR", -1500),
        AccountBalance(PAYOUTS_EUR, "system:payouts", "EUR", 400),
    ]
    assert view.position() == 2


def test_balances_list_wallets_and_system_accounts(view: LedgerViewRecorder) -> None:
    _populate(view)

    assert _balances(view) == [
        AccountBalance(FUNDING_EUR, "system:funding", "EUR", -1000),
        AccountBalance(PAYOUTS_EUR, "system:payouts", "EUR", 300),
        AccountBalance(ALICE_EUR, "wallet:alice", "EUR", 700),
        AccountBalance(ALICE_USD, "wallet:alice", "USD", 0),
        AccountBalance(BOB_EUR, "wallet:bob", "EUR", 0),
    ]
    assert sum(b.balance for b in view.balances() if b.currency == "EUR") == 0


def test_balances_page_in_account_id_order_each_account_once(view: LedgerViewRecorder) -> None:
    _populate(view)
    everything = view.balances()

    pages, after = [], None
    for _ in range(5):
        page = view.balances(after, 2)
        if not page:
            break
        pages.append(page)
        after = page[-1].account_id
    assert [len(page) for page in pages] == [2, 2, 1]
    paged = [row for page in pages for row in page]
    assert [row.account_id for row in paged] == sorted(row.account_id for row in everything)
    assert sorted(paged, key=lambda b: b.account_id) == sorted(
        everything, key=lambda b: b.account_id
    )
    assert view.balances(None, 0) == []


_WRITES: dict[str, Callable[[LedgerViewRecorder, Tracking], None]] = {
    "wallet_opened": lambda v, t: v.record_wallet_opened(uuid4(), "carol", "EUR", 0, _t(9), t),
    "wallet_entry": lambda v, t: v.record_wallet_entry(
        BOB_EUR, 2, uuid4(), "credit", 10, 10, "", _t(9), t
    ),
    "held_change": lambda v, t: v.record_held_change(BOB_EUR, 2, 10, _t(9), t),
    "system_postings": lambda v, t: v.record_system_postings(
        [(FUNDING_EUR, "system:funding", "EUR", -10)], t
    ),
    "tracking_only": lambda v, t: v.insert_tracking(t),
}


@pytest.mark.parametrize("write", sorted(_WRITES))
@pytest.mark.parametrize("notification_id", [8, 5], ids=["repeated", "older"])
def test_rejects_a_tracked_event_again_and_changes_nothing(
    view: LedgerViewRecorder, write: str, notification_id: int
) -> None:
    _populate(view)
    before = _state(view)

    with pytest.raises(IntegrityError):
        _WRITES[write](view, Tracking(APP, notification_id))

    assert _state(view) == before
    assert view.wallets_of("carol") == []


@pytest.mark.parametrize("write", ["wallet_entry", "held_change"])
def test_rejects_an_event_of_an_unknown_wallet_and_changes_nothing(
    view: LedgerViewRecorder, write: str
) -> None:
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
    before = _state(view)

    with pytest.raises(LookupError):
        _WRITES[write](view, Tracking(APP, 2))  # BOB_EUR was never opened

    assert _state(view) == before
    assert view.position() == 1


def test_position_follows_tracking_and_wait_for_times_out_quickly(view: LedgerViewRecorder) -> None:
    assert view.position() is None
    started = time.monotonic()
    assert view.wait_for(1, timeout_s=0.05) is False
    assert 0.05 <= time.monotonic() - started < 1.0
    assert view.wait_for(1, timeout_s=0) is False

    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 3))
    view.insert_tracking(Tracking(APP, 5))
    view.insert_tracking(Tracking("another_application", 99))

    assert view.position() == 5
    assert view.wait_for(3, timeout_s=0) is True
    assert view.wait_for(5, timeout_s=0) is True
    started = time.monotonic()
    assert view.wait_for(6, timeout_s=0.05) is False
    assert time.monotonic() - started < 1.0


def test_wait_for_returns_once_the_position_is_reached(view: LedgerViewRecorder) -> None:
    view.insert_tracking(Tracking(APP, 1))
    writer = threading.Timer(0.1, view.insert_tracking, args=(Tracking(APP, 7),))
    started = time.monotonic()
    writer.start()
    try:
        assert view.wait_for(7, timeout_s=TIMEOUT_S) is True
    finally:
        writer.join(TIMEOUT_S)
    assert 0.1 <= time.monotonic() - started < TIMEOUT_S
    assert view.position() == 7


def test_reset_empties_the_view_and_forgets_the_position(view: LedgerViewRecorder) -> None:
    _populate(view)

    view.reset()

    assert view.wallets_of("alice") == []
    assert view.wallets_of("bob") == []
    assert view.statement(ALICE_EUR, None, 10) == []
    assert view.balances() == []
    assert view.position() is None
    # The log can be projected again from its start.
    view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
    assert [w.id for w in view.wallets_of("alice")] == [ALICE_EUR]
    assert view.position() == 1


# The real projection over a real ledger, on each SQL backend.


class _Backend:
    """A SQL backend for the end-to-end test: the ledger's settings and a view factory."""

    def __init__(
        self,
        ledger_env: dict[str, str],
        make_view: Callable[[], tuple[LedgerViewRecorder, Callable[[], None]]],
    ):
        self.ledger_env = {**ledger_env, "MAPPER_TOPIC": MAPPER_TOPIC}
        self.make_view = make_view


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Backend]:
    if request.param == "sqlite":
        # The view shares the ledger's database file, as a deployment on SQLite would.
        db_name = str(tmp_path / "ledger.db")

        def make_sqlite_view() -> tuple[LedgerViewRecorder, Callable[[], None]]:
            database = open_view_database("sqlite", sqlite_path=db_name)
            view = open_ledger_view(database, application_name=APP)
            return view, view.close

        yield _Backend(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db_name},
            make_sqlite_view,
        )
    else:
        with postgres_schema() as schema:

            def make_pg_view() -> tuple[LedgerViewRecorder, Callable[[], None]]:
                database = open_view_database("postgres", postgres=postgres_connection(schema))
                view = open_ledger_view(database, application_name=APP)
                return view, view.close

            yield _Backend(POSTGRES.eventsourcing_env(schema), make_pg_view)


def _drive(ledger: App) -> list[tuple[str, str]]:
    """Commands of every kind; returns the (customer, currency) wallets they opened."""
    wallets = [("alice", "EUR"), ("bob", "EUR"), ("alice", "USD"), ("carol", "EUR")]
    for customer, currency in wallets:
        ledger.wallets.open_wallet(
            CALLER, customer, currency, overdraft_limit_minor=500 if customer == "carol" else 0
        )
    ledger.wallets.credit_wallet(CALLER, "alice", 10_000, "EUR", "top up")
    ledger.wallets.credit_wallet(CALLER, "alice", 2_500, "USD", "top up")
    ledger.wallets.credit_wallet(CALLER, "bob", 1_000, "EUR")
    ledger.wallets.debit_wallet(CALLER, "alice", 1_200, "EUR", "cash out")
    ledger.wallets.transfer(CALLER, "alice", "bob", 3_000, "EUR", "rent")
    ledger.wallets.debit_wallet(CALLER, "carol", 400, "EUR", "into the overdraft")
    captured = ledger.holds.place_hold(CALLER, "bob", 2_000, "EUR", description="hotel").value
    ledger.holds.post_hold(CALLER, captured.id, 1_500, to_customer_id="carol", description="hotel")
    voided = ledger.holds.place_hold(CALLER, "alice", 700, "EUR").value
    ledger.holds.void_hold(CALLER, voided.id)
    ledger.holds.place_hold(CALLER, "alice", 300, "USD")  # still pending: held
    ledger.holds.post_hold(
        CALLER, ledger.holds.place_hold(CALLER, "alice", 250, "EUR").value.id
    )  # out to payouts
    return wallets


def _project(ledger: App, projection: LedgerProjection, start: int, limit: int = 7) -> int:
    """Feed the log from `start` to the projection, a page at a time; returns events fed."""
    fed = 0
    for _ in range(PAGE_SIZE_MAX):
        notifications = ledger.ledger.recorder.select_notifications(start, limit)
        if not notifications:
            return fed
        for notification in notifications:
            event = ledger.ledger.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(APP, notification.id))
            fed += 1
        start = notifications[-1].id + 1
    raise AssertionError("the log did not end")


def _assert_view_matches(
    ledger: App, view: LedgerViewRecorder, wallets: list[tuple[str, str]]
) -> None:
    for customer, currency in wallets:
        expected = ledger.wallets.get_wallet(CALLER, customer, currency)
        [shown] = [w for w in view.wallets_of(customer) if w.currency == currency]
        assert shown == expected
    totals: dict[str, int] = defaultdict(int)
    for balance in view.balances():
        totals[balance.currency] += balance.balance
    assert dict(totals) == {"EUR": 0, "USD": 0}
    wallet_rows = [b for b in view.balances() if b.account.startswith("wallet:")]
    assert len(wallet_rows) == len(wallets)


def test_projection_of_a_real_ledger_matches_the_ledger(backend: _Backend) -> None:
    ledger = make_app(SystemClock(), ledger=Ledger(env=backend.ledger_env))
    view, close_view = backend.make_view()
    try:
        wallets = _drive(ledger)
        projection = LedgerProjection(view)
        last_id = ledger.ledger.recorder.max_notification_id()
        assert last_id is not None

        assert _project(ledger, projection, start=1) > 0
        assert view.position() == last_id
        assert view.wait_for(last_id, timeout_s=0) is True
        _assert_view_matches(ledger, view, wallets)
        statement = view.statement(wallet_id("alice", "EUR"), None, PAGE_SIZE_MAX)
        assert [e.kind for e in statement][-2:] == ["debit", "credit"]
        assert [e.sequence for e in statement] == sorted(
            (e.sequence for e in statement), reverse=True
        )

        # Feeding the same log again changes nothing: each event is applied once.
        before = (_balances(view), view.wallets_of("alice"), view.position())
        first = ledger.ledger.recorder.select_notifications(1, 1)[0]
        with pytest.raises(IntegrityError):
            projection.process_event(
                ledger.ledger.mapper.to_domain_event(first), Tracking(APP, first.id)
            )
        assert (_balances(view), view.wallets_of("alice"), view.position()) == before

        # Later commands are picked up from the view's position; a fresh view instance on
        # the same tables (a restarted worker) carries on where the last one stopped.
        ledger.wallets.transfer(CALLER, "bob", "alice", 100, "EUR", "change")
        restarted, close_restarted = backend.make_view()
        try:
            position = restarted.position()
            assert position == last_id
            assert _project(ledger, LedgerProjection(restarted), start=position + 1) >= 3
            _assert_view_matches(ledger, restarted, wallets)

            # Reset, then a rebuild from the start of the log gives the same view.
            rebuilt_from = _balances(restarted)
            restarted.reset()
            _project(ledger, LedgerProjection(restarted), start=1)
            assert _balances(restarted) == rebuilt_from
            _assert_view_matches(ledger, restarted, wallets)
        finally:
            close_restarted()
    finally:
        close_view()
        ledger.ledger.close()


def test_a_batch_commits_all_its_writes_together(view: LedgerViewRecorder) -> None:
    with view.batch():
        _populate(view)
        view.record_held_change(ALICE_EUR, 5, -200, _t(5), Tracking(APP, 9))

    assert view.position() == 9
    assert [w.held for w in view.wallets_of("alice")] == [0, 0]
    assert view.statement(ALICE_EUR, None, 10)[0].balance_after == 700


def test_a_failing_batch_changes_nothing(view: LedgerViewRecorder) -> None:
    _populate(view)
    before = _state(view)

    def failing_batch() -> None:
        with view.batch():
            _record_entry(view, ALICE_EUR, _entry(4, 50, 750, 9))
            view.record_system_postings(
                [(FUNDING_EUR, "system:funding", "EUR", -50)], Tracking(APP, 10)
            )
            # Position 10 is tracked already: the whole batch must roll back.
            view.record_held_change(ALICE_EUR, 5, -200, _t(5), Tracking(APP, 10))

    with pytest.raises(IntegrityError):
        failing_batch()

    assert _state(view) == before


def test_a_batch_shows_its_own_position_to_its_writer(view: LedgerViewRecorder) -> None:
    with view.batch():
        view.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
        view.insert_tracking(Tracking(APP, 4))
        assert view.position() == 4

    assert view.position() == 4


def test_concurrent_batches_of_the_same_events_apply_them_once(backend: _Backend) -> None:
    first, close_first = backend.make_view()
    second, close_second = backend.make_view()
    written = threading.Event()

    def first_batch() -> None:
        with first.batch():
            first.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
            _record_entry(first, ALICE_EUR, _entry(2, 1000, 1000, 2))
            first.insert_tracking(Tracking(APP, 3))
            written.set()
            time.sleep(0.2)  # the second batch starts while this one is still open

    def second_batch() -> None:
        with second.batch():
            second.record_wallet_opened(ALICE_EUR, "alice", "EUR", 0, _t(1), Tracking(APP, 1))
            _record_entry(second, ALICE_EUR, _entry(2, 1000, 1000, 2))

    try:
        writer = threading.Thread(target=first_batch)
        writer.start()
        assert written.wait(TIMEOUT_S)
        with pytest.raises(IntegrityError):
            second_batch()  # waits for the first batch to commit, then finds 1 taken
        writer.join(TIMEOUT_S)

        assert second.position() == 3
        assert [w.balance for w in second.wallets_of("alice")] == [1000]
        assert len(second.statement(ALICE_EUR, None, PAGE_SIZE_MAX)) == 1
    finally:
        close_first()
        close_second()
