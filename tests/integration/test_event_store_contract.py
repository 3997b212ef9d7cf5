"""One contract for the event store, run on memory, the SQLite file and PostgreSQL.

Each backend is wired exactly as production wires it (msgspec mapper; on PostgreSQL the
group-commit recorder), through the composition root (`entrypoints.container`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError

from adapters.clock import SystemClock
from application.ledger import Ledger
from domain.account import Account
from domain.errors import InsufficientFundsError
from domain.ids import wallet_id
from domain.journal import JournalTransaction
from entrypoints.container import build_sync_container
from entrypoints.settings import Settings, load_settings
from tests.support.services import POSTGRES, postgres_schema
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration

Reopen = Callable[[], App]


def settings_of(url: str, schema: str = "public") -> Settings:
    return load_settings({"PAYLEDGER_DATABASE_URL": url, "PAYLEDGER_DATABASE_SCHEMA": schema})


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[App, Reopen]]:
    """The use cases on one backend's event store (built by the composition root), and a way
    to open a second, independent one on the same data."""
    containers = []

    def open_with(settings: Settings) -> App:
        container = build_sync_container(settings)
        containers.append(container)
        return make_app(SystemClock(), ledger=container.get(Ledger))

    try:
        if request.param == "memory":
            app = open_with(settings_of("memory://"))
            yield app, lambda: app
        elif request.param == "sqlite":
            settings = settings_of(f"sqlite:///{tmp_path / 'events.sqlite3'}")
            yield open_with(settings), lambda: open_with(settings)
        else:
            with postgres_schema() as schema:
                url = (
                    f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/"
                    f"{POSTGRES.dbname}"
                )
                settings = settings_of(url, schema)
                try:
                    yield open_with(settings), lambda: open_with(settings)
                finally:
                    for container in containers:
                        container.close()
                    containers.clear()
    finally:
        for container in containers:
            container.close()


def journal_postings(app: App) -> list[tuple[int, JournalTransaction.Recorded]]:
    ledger = app.ledger
    found = []
    for notification in ledger.recorder.select_notifications(start=1, limit=100_000):
        event = ledger.mapper.to_domain_event(notification)
        if isinstance(event, JournalTransaction.Recorded):
            found.append((notification.id, event))
    return found


def test_state_survives_reopening_the_store(store: tuple[App, Reopen]) -> None:
    ledger, reopen = store
    ledger.wallets.open_wallet(CALLER, "alice", "USD")
    ledger.wallets.open_wallet(CALLER, "bob", "USD")
    ledger.wallets.credit_wallet(CALLER, "alice", 10_000, "USD", idempotency_key="top-up")
    ledger.wallets.transfer(CALLER, "alice", "bob", 2_500, "USD")
    hold = ledger.holds.place_hold(CALLER, "alice", 1_000, "USD", expires_in_s=600).value

    other = reopen()
    assert other.wallets.get_wallet(CALLER, "alice", "USD").balance == 7_500
    assert other.wallets.get_wallet(CALLER, "alice", "USD").available == 6_500
    assert other.wallets.get_wallet(CALLER, "bob", "USD").balance == 2_500
    assert other.holds.get_hold(CALLER, hold.id).status == "PENDING"
    replay = other.wallets.credit_wallet(CALLER, "alice", 10_000, "USD", idempotency_key="top-up")
    assert replay.replayed
    assert other.wallets.get_wallet(CALLER, "alice", "USD").balance == 7_500


def test_log_is_totally_ordered_decodable_and_conserves_money(
    store: tuple[App, Reopen],
) -> None:
    ledger, _ = store
    for name in ("a", "b", "c"):
        ledger.wallets.open_wallet(CALLER, name, "EUR")
        ledger.wallets.credit_wallet(CALLER, name, 1_000, "EUR")
    ledger.wallets.transfer(CALLER, "a", "b", 300, "EUR")
    ledger.wallets.debit_wallet(CALLER, "c", 200, "EUR")

    notifications = ledger.ledger.recorder.select_notifications(start=1, limit=1_000)
    ids = [n.id for n in notifications]
    assert ids == sorted(set(ids))
    totals: dict[str, int] = defaultdict(int)
    for _, recorded in journal_postings(ledger):
        for posting in recorded.postings:
            totals[posting.currency] += posting.amount_minor
    assert dict(totals) == {"EUR": 0}


def test_stale_aggregate_conflicts_and_stores_nothing(store: tuple[App, Reopen]) -> None:
    ledger, _ = store
    ledger.wallets.open_wallet(CALLER, "carol", "USD")
    first = ledger.ledger.repository.get(wallet_id("carol", "USD"), deepcopy_from_cache=True)
    second = ledger.ledger.repository.get(wallet_id("carol", "USD"), deepcopy_from_cache=True)
    assert isinstance(first, Account)
    assert isinstance(second, Account)
    journal_id = JournalTransaction.create_id()
    first.credit(100, "USD", journal_id, "credit", "")
    second.credit(999, "USD", journal_id, "credit", "")
    ledger.ledger.save(first)
    position = ledger.ledger.recorder.max_notification_id()

    with pytest.raises(IntegrityError):
        ledger.ledger.save(second)

    assert ledger.ledger.recorder.max_notification_id() == position
    assert ledger.wallets.get_wallet(CALLER, "carol", "USD").balance == 100


def test_a_deterministic_id_can_only_be_created_once(store: tuple[App, Reopen]) -> None:
    ledger, _ = store
    ledger.wallets.open_wallet(CALLER, "dave", "USD")
    with pytest.raises(IntegrityError):
        ledger.ledger.save(Account.open("dave", "USD"))


def test_busy_wallet_is_snapshotted_and_reloads_equal(store: tuple[App, Reopen]) -> None:
    ledger, reopen = store
    ledger.wallets.open_wallet(CALLER, "erin", "JPY")
    for _ in range(130):
        ledger.wallets.credit_wallet(CALLER, "erin", 7, "JPY")
    assert ledger.ledger.snapshots is not None
    snapshots = list(ledger.ledger.snapshots.get(wallet_id("erin", "JPY")))
    assert snapshots, "a wallet past the snapshot interval has a snapshot"
    reloaded = reopen().wallets.get_wallet(CALLER, "erin", "JPY")
    assert reloaded.balance == 910
    assert reloaded.version == 131


def test_concurrent_debits_never_lose_an_update_or_overdraw(
    store: tuple[App, Reopen],
) -> None:
    ledger, _ = store
    ledger.wallets.open_wallet(CALLER, "frank", "USD")
    ledger.wallets.credit_wallet(CALLER, "frank", 500, "USD")
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(10):
            try:
                ledger.wallets.debit_wallet(CALLER, "frank", 10, "USD")
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
    assert ledger.wallets.get_wallet(CALLER, "frank", "USD").balance == 0
