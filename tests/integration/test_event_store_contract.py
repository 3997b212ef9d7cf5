"""One contract for the event store, run on memory, the SQLite file and PostgreSQL.

Each backend is wired exactly as production wires it (msgspec mapper; on PostgreSQL the
group-commit recorder), through `entrypoints.bootstrap`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from application.ledger import Ledger
from domain.account import Account
from domain.errors import InsufficientFundsError
from domain.ids import wallet_id
from domain.journal import JournalTransaction
from entrypoints import bootstrap
from entrypoints.settings import Settings
from tests.support.services import POSTGRES, postgres_schema

pytestmark = pytest.mark.integration

Reopen = Callable[[], Ledger]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Ledger, Reopen]]:
    """A ledger on one backend, and a way to open a second, independent one on the same data."""
    opened: list[Ledger] = []

    def open_with(settings: Settings) -> Ledger:
        ledger = bootstrap.build_ledger(settings)
        opened.append(ledger)
        return ledger

    if request.param == "memory":
        ledger = open_with(Settings(database_url="memory://"))
        yield ledger, lambda: ledger
    elif request.param == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'events.sqlite3'}")
        yield open_with(settings), lambda: open_with(settings)
    else:
        with postgres_schema() as schema:
            url = f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/{POSTGRES.dbname}"
            settings = Settings(database_url=url, database_schema=schema)
            try:
                yield open_with(settings), lambda: open_with(settings)
            finally:
                for ledger in opened:
                    ledger.close()
            return
    for ledger in opened:
        ledger.close()


def journal_postings(ledger: Ledger) -> list[tuple[int, JournalTransaction.Recorded]]:
    found = []
    for notification in ledger.recorder.select_notifications(start=1, limit=100_000):
        event = ledger.mapper.to_domain_event(notification)
        if isinstance(event, JournalTransaction.Recorded):
            found.append((notification.id, event))
    return found


def test_state_survives_reopening_the_store(store: tuple[Ledger, Reopen]) -> None:
    ledger, reopen = store
    ledger.open_wallet("alice", "USD")
    ledger.open_wallet("bob", "USD")
    ledger.credit_wallet("alice", 10_000, "USD", idempotency_key="top-up")
    ledger.transfer("alice", "bob", 2_500, "USD")
    hold = ledger.place_hold("alice", 1_000, "USD", expires_in_s=600).value

    other = reopen()
    assert other.get_wallet("alice", "USD").balance == 7_500
    assert other.get_wallet("alice", "USD").available == 6_500
    assert other.get_wallet("bob", "USD").balance == 2_500
    assert other.get_hold(hold.id).status == "pending"
    replay = other.credit_wallet("alice", 10_000, "USD", idempotency_key="top-up")
    assert replay.replayed
    assert other.get_wallet("alice", "USD").balance == 7_500


def test_log_is_totally_ordered_decodable_and_conserves_money(
    store: tuple[Ledger, Reopen],
) -> None:
    ledger, _ = store
    for name in ("a", "b", "c"):
        ledger.open_wallet(name, "EUR")
        ledger.credit_wallet(name, 1_000, "EUR")
    ledger.transfer("a", "b", 300, "EUR")
    ledger.debit_wallet("c", 200, "EUR")

    notifications = ledger.recorder.select_notifications(start=1, limit=1_000)
    ids = [n.id for n in notifications]
    assert ids == sorted(set(ids))
    totals: dict[str, int] = defaultdict(int)
    for _, recorded in journal_postings(ledger):
        for posting in recorded.postings:
            totals[posting.currency] += posting.amount_minor
    assert dict(totals) == {"EUR": 0}


def test_stale_aggregate_conflicts_and_stores_nothing(store: tuple[Ledger, Reopen]) -> None:
    ledger, _ = store
    ledger.open_wallet("carol", "USD")
    first = ledger.repository.get(wallet_id("carol", "USD"), deepcopy_from_cache=True)
    second = ledger.repository.get(wallet_id("carol", "USD"), deepcopy_from_cache=True)
    assert isinstance(first, Account)
    assert isinstance(second, Account)
    journal_id = JournalTransaction.create_id()
    first.credit(100, "USD", journal_id, "credit", "")
    second.credit(999, "USD", journal_id, "credit", "")
    ledger.save(first)
    position = ledger.recorder.max_notification_id()

    with pytest.raises(IntegrityError):
        ledger.save(second)

    assert ledger.recorder.max_notification_id() == position
    assert ledger.get_wallet("carol", "USD").balance == 100


def test_a_deterministic_id_can_only_be_created_once(store: tuple[Ledger, Reopen]) -> None:
    ledger, _ = store
    ledger.open_wallet("dave", "USD")
    with pytest.raises(IntegrityError):
        ledger.save(Account.open("dave", "USD"))


def test_busy_wallet_is_snapshotted_and_reloads_equal(store: tuple[Ledger, Reopen]) -> None:
    ledger, reopen = store
    ledger.open_wallet("erin", "JPY")
    for _ in range(130):
        ledger.credit_wallet("erin", 7, "JPY")
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(wallet_id("erin", "JPY")))
    assert snapshots, "a wallet past the snapshot interval has a snapshot"
    reloaded = reopen().get_wallet("erin", "JPY")
    assert reloaded.balance == 910
    assert reloaded.version == 131


def test_concurrent_debits_never_lose_an_update_or_overdraw(
    store: tuple[Ledger, Reopen],
) -> None:
    ledger, _ = store
    ledger.open_wallet("frank", "USD")
    ledger.credit_wallet("frank", 500, "USD")
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(10):
            try:
                ledger.debit_wallet("frank", 10, "USD")
                result = "ok"
            except InsufficientFundsError:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 50
    assert outcomes.count("refused") == 30
    assert ledger.get_wallet("frank", "USD").balance == 0
