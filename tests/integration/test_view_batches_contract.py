"""One contract for the ledger and payments read models on every backend: a batch leaves the
view exactly as the same events written one at a time do.

In a batch the SQL views keep their changes in memory and write each row once when the
batch ends, folding many changes of one wallet or payment into one statement. Each test
writes one seeded random script of changes twice, once event by event and once in batches
of random sizes, and compares everything the two views show. The scripts mix rows created
in the same batch as their changes with rows created batches earlier, several changes of
one row in a batch, refunds that reach the captured amount exactly and changes after them,
held amounts, and one posting to the same system account twice in an event.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from adapters.views.factory import open_ledger_view, open_payments_view, open_view_database
from adapters.views.ledger_view import SqlLedgerView
from adapters.views.payments_view import SqlPaymentsView
from adapters.views.sql import ViewDatabase
from domain.payment import FAILED, PROCESSING
from tests.support.services import postgres_schema
from tests.support.views import postgres_connection

pytestmark = pytest.mark.integration

APP = "payledger"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
EVENTS = 400
BATCH_SIZE_MAX = 60
PAGE_SIZE_MAX = 1000
SEEDS = tuple(range(1, 7))

Change = Callable[[Any, Tracking], None]  # one event's change, written to a view


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], ViewDatabase]]:
    """Opens view databases on one backend (each view gets its own)."""
    with ExitStack() as stack:
        count = iter(range(10))

        def open_database() -> ViewDatabase:
            if request.param == "memory":
                return open_view_database("memory")
            if request.param == "sqlite":
                return open_view_database("sqlite", sqlite_path=tmp_path / f"{next(count)}.db")
            schema = stack.enter_context(postgres_schema())
            return open_view_database("postgres", postgres=postgres_connection(schema))

        yield open_database


def _t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _write(view: Any, changes: list[Change], batch_sizes: list[int] | None) -> None:
    """The changes at positions 1, 2...: one at a time, or in batches of those sizes."""
    tracked = [(change, Tracking(APP, position)) for position, change in enumerate(changes, 1)]
    if batch_sizes is None:
        for change, tracking in tracked:
            change(view, tracking)
        return
    start = 0
    for size in batch_sizes:
        with view.batch():
            for change, tracking in tracked[start : start + size]:
                change(view, tracking)
        start += size
    assert start == len(tracked)


def _batch_sizes(rng: random.Random, events: int) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < events:
        sizes.append(min(rng.randint(1, BATCH_SIZE_MAX), events - sum(sizes)))
    return sizes


# Payments.


def _payment_changes(rng: random.Random) -> list[Change]:
    """A random script of payment events: creations, status changes, captures, refunds."""
    changes: list[Change] = []
    payments: list[UUID] = []
    captured: dict[UUID, int] = {}
    refunded: dict[UUID, int] = {}
    for position in range(1, EVENTS + 1):
        at = _t(position)
        roll = rng.random()
        # Mostly the newest payments (changed in the batch that created them), sometimes
        # an old one (changed batches later).
        recent = payments[-5:] if rng.random() < 0.7 else payments
        if not payments or roll < 0.2:
            payment = UUID(int=position)
            payments.append(payment)
            payer, method = rng.choice(["alice", "bob", "carol"]), rng.choice(["card", "wallet"])
            amount, currency = rng.randint(1, 900), rng.choice(["EUR", "USD"])
            changes.append(
                lambda v, t, p=payment, r=payer, a=amount, c=currency, m=method, at=at: (
                    v.record_payment_created(p, r, f"shop-{r}", a, c, m, at, t)
                )
            )
        elif roll < 0.45:
            payment = rng.choice(recent)
            status, reason = rng.choice([(PROCESSING, None), (FAILED, "card_declined")])
            changes.append(
                lambda v, t, p=payment, s=status, r=reason, at=at: v.record_status_changed(
                    p, s, r, at, t
                )
            )
        elif roll < 0.65:
            payment = rng.choice(recent)
            captured[payment] = amount = rng.choice([300, 500, 800])
            changes.append(
                lambda v, t, p=payment, a=amount, at=at: v.record_payment_captured(p, a, at, t)
            )
        elif roll < 0.9:
            payment = rng.choice(recent)
            # Often exactly what is left of the capture (REFUNDED), else a part of it.
            left = captured.get(payment, 0) - refunded.get(payment, 0)
            amount = left if left > 0 and rng.random() < 0.5 else rng.randint(1, 200)
            refunded[payment] = refunded.get(payment, 0) + amount
            changes.append(
                lambda v, t, p=payment, a=amount, at=at: v.record_payment_refunded(p, a, at, t)
            )
        else:
            changes.append(lambda v, t: v.insert_tracking(t))  # an event it ignores
    return changes


def _payments_shown(view: SqlPaymentsView) -> tuple[Any, ...]:
    rows = view.list_payments(None, None, None, None, None, PAGE_SIZE_MAX)
    return rows, view.summary(), view.position()


@pytest.mark.parametrize("seed", SEEDS)
def test_payments_batched_show_what_one_at_a_time_shows(
    databases: Callable[[], ViewDatabase], seed: int
) -> None:
    rng = random.Random(seed)
    changes = _payment_changes(rng)
    one_by_one = open_payments_view(databases(), application_name=APP)
    batched = open_payments_view(databases(), application_name=APP)
    try:
        _write(one_by_one, changes, None)
        _write(batched, changes, _batch_sizes(rng, len(changes)))

        expected = _payments_shown(one_by_one)
        assert expected[2] == EVENTS
        assert {row.status for row in expected[0]} >= {"REFUNDED", "PARTIALLY_REFUNDED"}
        assert _payments_shown(batched) == expected
    finally:
        one_by_one.close()
        batched.close()


def test_a_change_before_its_payment_is_created_in_one_batch_changes_nothing(
    databases: Callable[[], ViewDatabase],
) -> None:
    view = open_payments_view(databases(), application_name=APP)
    try:
        payment = UUID(int=7)
        view.record_payment_created(
            UUID(int=1), "bob", "shop", 10, "EUR", "card", T0, Tracking(APP, 1)
        )
        before = _payments_shown(view)

        def change_then_create() -> None:
            with view.batch():
                view.record_status_changed(payment, PROCESSING, None, _t(2), Tracking(APP, 2))
                view.record_payment_created(
                    payment, "al", "shop", 10, "EUR", "card", _t(3), Tracking(APP, 3)
                )

        with pytest.raises(LookupError):
            change_then_create()

        assert _payments_shown(view) == before
    finally:
        view.close()


# Ledger.

CUSTOMERS = ("alice", "bob", "carol", "dave")
SYSTEM_ACCOUNTS = (
    (UUID(int=0xF1), "system:funding"),
    (UUID(int=0xF2), "system:payouts"),
    (UUID(int=0xF3), "system:fees"),
)


def _ledger_changes(rng: random.Random) -> list[Change]:
    """A random script of ledger events: wallets opened, entries, holds, system postings."""
    changes: list[Change] = []
    wallets: list[UUID] = []
    versions: dict[UUID, int] = {}
    balances: dict[UUID, int] = {}
    for position in range(1, EVENTS + 1):
        at = _t(position)
        roll = rng.random()
        recent = wallets[-4:] if rng.random() < 0.7 else wallets
        if not wallets or roll < 0.1:
            wallet = UUID(int=position)
            wallets.append(wallet)
            versions[wallet], balances[wallet] = 1, 0
            customer = rng.choice(CUSTOMERS)
            currency, limit = f"C{position:02}", rng.choice([0, 500])
            changes.append(
                lambda v, t, w=wallet, c=customer, cur=currency, lim=limit, at=at: (
                    v.record_wallet_opened(w, c, cur, lim, at, t)
                )
            )
        elif roll < 0.55:
            wallet = rng.choice(recent)
            versions[wallet] += 1
            amount = rng.randint(-300, 900)
            balances[wallet] += amount
            sequence, after = versions[wallet], balances[wallet]
            changes.append(
                lambda v, t, w=wallet, s=sequence, a=amount, b=after, at=at: v.record_wallet_entry(
                    w, s, UUID(int=t.notification_id), "x", a, b, f"entry {s}", at, t
                )
            )
        elif roll < 0.75:
            wallet = rng.choice(recent)
            versions[wallet] += 1
            sequence, delta = versions[wallet], rng.choice([150, -100, 40])
            changes.append(
                lambda v, t, w=wallet, s=sequence, d=delta, at=at: v.record_held_change(
                    w, s, d, at, t
                )
            )
        elif roll < 0.9:
            postings = [
                (*rng.choice(SYSTEM_ACCOUNTS), "EUR", rng.randint(-500, 500))
                for _ in range(rng.randint(1, 3))
            ]
            changes.append(lambda v, t, p=postings: v.record_system_postings(p, t))
        else:
            changes.append(lambda v, t: v.insert_tracking(t))
    return changes


def _ledger_shown(view: SqlLedgerView) -> tuple[Any, ...]:
    wallets = [wallet for customer in CUSTOMERS for wallet in view.wallets_of(customer)]
    statements = [view.statement(wallet.id, None, PAGE_SIZE_MAX) for wallet in wallets]
    return wallets, statements, view.balances(), view.position()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_ledger_batched_shows_what_one_at_a_time_shows(
    databases: Callable[[], ViewDatabase], seed: int
) -> None:
    rng = random.Random(seed)
    changes = _ledger_changes(rng)
    one_by_one = open_ledger_view(databases(), application_name=APP)
    batched = open_ledger_view(databases(), application_name=APP)
    try:
        _write(one_by_one, changes, None)
        _write(batched, changes, _batch_sizes(rng, len(changes)))

        expected = _ledger_shown(one_by_one)
        assert expected[3] == EVENTS
        assert any(wallet.held for wallet in expected[0])
        assert _ledger_shown(batched) == expected
    finally:
        one_by_one.close()
        batched.close()


def test_an_entry_before_its_wallet_is_opened_in_one_batch_changes_nothing(
    databases: Callable[[], ViewDatabase],
) -> None:
    view = open_ledger_view(databases(), application_name=APP)
    try:
        wallet = UUID(int=7)
        view.record_wallet_opened(UUID(int=1), "bob", "EUR", 0, T0, Tracking(APP, 1))
        before = _ledger_shown(view)

        def entry_then_open() -> None:
            with view.batch():
                view.record_wallet_entry(
                    wallet, 2, UUID(int=2), "credit", 5, 5, "early", _t(2), Tracking(APP, 2)
                )
                view.record_wallet_opened(wallet, "alice", "EUR", 0, _t(3), Tracking(APP, 3))

        with pytest.raises(LookupError):
            entry_then_open()

        assert _ledger_shown(view) == before
    finally:
        view.close()
