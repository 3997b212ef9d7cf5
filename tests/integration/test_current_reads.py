"""Reads by id start from this process's cache and ask the log only for newer events.

Two processes are two independent stores on one database (each with its own cache), built
by the composition root as `serve` builds them, on the SQLite file and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import SystemClock
from application.errors import IdempotencyKeyReusedError
from application.ledger import Ledger
from application.payments import PaymentRequest
from domain.ids import wallet_id
from domain.payment_terms import PaymentMethod
from entrypoints.container import build_sync_container
from entrypoints.settings import load_settings
from tests.support.services import POSTGRES, postgres_schema
from tests.unit.application.support import CALLER, App, make_app

pytestmark = pytest.mark.integration

Open = Callable[[], App]


@pytest.fixture(params=["sqlite", "postgres"])
def open_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """Opens one more process's store on the same data (its own cache, its own pool)."""
    containers: list[Any] = []

    def opener(url: str, schema: str = "public") -> Open:
        settings = load_settings(
            {"PAYLEDGER_DATABASE_URL": url, "PAYLEDGER_DATABASE_SCHEMA": schema}
        )

        def open_one() -> App:
            container = build_sync_container(settings)
            containers.append(container)
            return make_app(SystemClock(), ledger=container.get(Ledger))

        return open_one

    try:
        if request.param == "sqlite":
            yield opener(f"sqlite:///{tmp_path / 'events.sqlite3'}")
        else:
            with postgres_schema() as schema:
                url = (
                    f"postgresql://{POSTGRES.user}@{POSTGRES.host}:{POSTGRES.port}/"
                    f"{POSTGRES.dbname}"
                )
                try:
                    yield opener(url, schema)
                finally:
                    for container in containers:
                        container.close()
                    containers.clear()
    finally:
        for container in containers:
            container.close()


class Reads:
    """Counts the event and snapshot reads a ledger makes (and the `gt` each asked for)."""

    def __init__(self, ledger: Ledger) -> None:
        self.events: list[int | None] = []
        self.snapshots = 0
        events = ledger.recorder
        original_events = events.select_events

        def select_events(originator_id: Any, **kwargs: Any) -> Any:
            self.events.append(kwargs.get("gt"))
            return original_events(originator_id, **kwargs)

        events.select_events = select_events  # type: ignore[method-assign]
        assert ledger.snapshots is not None
        snapshots = ledger.snapshots.recorder
        assert snapshots is not events
        original_snapshots = snapshots.select_events

        def select_snapshots(originator_id: Any, **kwargs: Any) -> Any:
            self.snapshots += 1
            return original_snapshots(originator_id, **kwargs)

        snapshots.select_events = select_snapshots  # type: ignore[method-assign]

    def clear(self) -> None:
        self.events.clear()
        self.snapshots = 0


def funded_wallet(app: App, customer: str, amount_minor: int) -> None:
    app.wallets.open_wallet(CALLER, customer, "USD")
    app.wallets.credit_wallet(CALLER, customer, amount_minor, "USD")


def test_a_stale_cached_wallet_is_brought_up_to_date_after_another_process_wrote(
    open_process: Open,
) -> None:
    first, second = open_process(), open_process()
    funded_wallet(first, "alice", 1_000)
    assert first.wallets.get_wallet(CALLER, "alice", "USD").balance == 1_000
    assert second.wallets.get_wallet(CALLER, "alice", "USD").balance == 1_000  # cached there

    first.wallets.credit_wallet(CALLER, "alice", 250, "USD")
    reads = Reads(second.ledger)

    assert second.wallets.get_wallet(CALLER, "alice", "USD").balance == 1_250
    # One read of the events after the cached version, no snapshot, no whole read.
    cached_version = 2
    assert reads.events == [cached_version]
    assert reads.snapshots == 0
    # The newer copy replaced the stale one: commands of that process start from it.
    cached = second.ledger.repository.cache
    assert cached is not None
    assert cached.get(wallet_id("alice", "USD")).version == 3


def test_a_payment_read_sees_the_settlement_another_process_recorded(
    open_process: Open,
) -> None:
    first, second = open_process(), open_process()
    funded_wallet(first, "bob", 1_000)
    request = PaymentRequest("bob", "school-1", 300, "USD", PaymentMethod.WALLET)
    payment = first.payments.create_payment(CALLER, request).value
    assert second.payments.get_payment(CALLER, payment.id).status == "CREATED"

    assert first.settlement.advance(payment.id) != "CREATED"

    seen = second.payments.get_payment(CALLER, payment.id)
    assert seen.status == first.payments.get_payment(CALLER, payment.id).status != "CREATED"
    assert second.wallets.get_wallet(CALLER, "bob", "USD") == first.wallets.get_wallet(
        CALLER, "bob", "USD"
    )


def test_a_current_cached_read_asks_only_for_the_logs_head_and_changes_nothing(
    open_process: Open,
) -> None:
    app = open_process()
    funded_wallet(app, "carol", 500)
    before = app.wallets.get_wallet(CALLER, "carol", "USD")
    position = app.ledger.log_position()
    reads = Reads(app.ledger)
    checks = app.runner.head.checks

    for _ in range(3):
        assert app.wallets.get_wallet(CALLER, "carol", "USD") == before

    # Saved by this process, and the log has not moved since: no events to ask for.
    assert reads.events == []
    assert reads.snapshots == 0
    assert app.runner.head.checks == checks + 3  # one head check per read (outside a request)
    assert app.ledger.log_position() == position


def test_a_wallet_known_current_here_is_read_again_once_another_process_wrote(
    open_process: Open,
) -> None:
    first, second = open_process(), open_process()
    funded_wallet(first, "erin", 1_000)
    for _ in range(2):  # the second read finds it cached and notes it current to the head
        assert second.wallets.get_wallet(CALLER, "erin", "USD").balance == 1_000
    reads = Reads(second.ledger)
    assert second.wallets.get_wallet(CALLER, "erin", "USD").balance == 1_000
    assert reads.events == []

    first.wallets.debit_wallet(CALLER, "erin", 300, "USD")

    assert second.wallets.get_wallet(CALLER, "erin", "USD").balance == 700
    assert reads.events == [2]  # the head moved: the events after the cached version


def test_a_keyed_payment_reads_no_events_unless_its_key_was_used(open_process: Open) -> None:
    app = open_process()
    funded_wallet(app, "dave", 1_000)
    app.wallets.get_wallet(CALLER, "dave", "USD")  # the wallet is cached, as under load
    request = PaymentRequest("dave", "school-1", 100, "USD", PaymentMethod.WALLET)
    reads = Reads(app.ledger)

    made = app.payments.create_payment(CALLER, request, "key-1")

    assert not made.replayed
    assert reads.events == []
    assert reads.snapshots == 0

    # The key's claim collided on insert: only then is the first result read.
    replayed = app.payments.create_payment(CALLER, request, "key-1")
    assert replayed.replayed
    assert replayed.value == made.value
    assert reads.events != []
    position = app.ledger.log_position()
    other = PaymentRequest("dave", "school-1", 101, "USD", PaymentMethod.WALLET)
    with pytest.raises(IdempotencyKeyReusedError):
        app.payments.create_payment(CALLER, other, "key-1")
    assert app.ledger.log_position() == position
    assert app.wallets.get_wallet(CALLER, "dave", "USD").balance == 1_000
