"""Snapshots of busy wallets: a reload from a snapshot equals a replay of every event."""

from __future__ import annotations

from typing import Any

import pytest

from domain.account import Account
from domain.ids import wallet_id
from tests.unit.application.fakes import FakeClock
from tests.unit.application.support import CALLER, App

pytestmark = pytest.mark.unit

POSTINGS = 120  # past the snapshotting interval of 100 versions


def replay_without_snapshots(app: App, customer_id: str, currency: str) -> Account:
    aggregate: Any = None
    for event in app.ledger.events.get(wallet_id(customer_id, currency)):
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Account)
    return aggregate


def test_a_busy_wallet_is_snapshotted_and_reloads_to_the_same_balance(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    for amount in range(1, POSTINGS + 1):
        app.wallets.credit_wallet(CALLER, "alice", amount, "USD")

    assert app.ledger.snapshots is not None
    snapshots = list(app.ledger.snapshots.get(wallet_id("alice", "USD")))
    assert [s.originator_version for s in snapshots] == [100]

    wallet = app.wallets.get_wallet(CALLER, "alice", "USD")
    assert wallet.balance == POSTINGS * (POSTINGS + 1) // 2
    assert wallet.version == POSTINGS + 1
    replayed = replay_without_snapshots(app, "alice", "USD")
    assert (replayed.balance_minor, replayed.version) == (wallet.balance, wallet.version)


def test_a_snapshot_keeps_pending_holds_and_their_expiry(app: App, clock: FakeClock) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    lapsing = app.holds.place_hold(CALLER, "alice", 300, "USD", expires_in_s=60).value
    app.holds.place_hold(CALLER, "alice", 200, "USD")
    for _ in range(POSTINGS):
        app.wallets.credit_wallet(CALLER, "alice", 1, "USD")
    assert app.ledger.snapshots is not None
    assert list(app.ledger.snapshots.get(wallet_id("alice", "USD")))

    wallet = app.wallets.get_wallet(CALLER, "alice", "USD")
    assert (wallet.balance, wallet.held) == (1000 + POSTINGS, 500)
    clock.advance(60)
    assert app.wallets.get_wallet(CALLER, "alice", "USD").held == 200

    # The lapsed hold is released from the snapshotted state like from a full replay.
    app.wallets.debit_wallet(CALLER, "alice", 1000 + POSTINGS - 200, "USD")
    replayed = replay_without_snapshots(app, "alice", "USD")
    assert replayed.balance_minor == 200
    assert str(lapsing.id) not in replayed.holds
    assert replayed.held_minor(clock.now()) == 200
    assert app.wallets.get_wallet(CALLER, "alice", "USD").available == 0
