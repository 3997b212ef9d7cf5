"""Snapshots of busy wallets: a reload from a snapshot equals a replay of every event."""

from __future__ import annotations

from typing import Any

import pytest

from application.ledger import Ledger
from domain.account import Account
from domain.ids import wallet_id
from tests.unit.application.fakes import FakeClock

pytestmark = pytest.mark.unit

POSTINGS = 120  # past the snapshotting interval of 100 versions


def replay_without_snapshots(ledger: Ledger, customer_id: str, currency: str) -> Account:
    aggregate: Any = None
    for event in ledger.events.get(wallet_id(customer_id, currency)):
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Account)
    return aggregate


def test_a_busy_wallet_is_snapshotted_and_reloads_to_the_same_balance(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")
    for amount in range(1, POSTINGS + 1):
        ledger.credit_wallet("alice", amount, "USD")

    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(wallet_id("alice", "USD")))
    assert [s.originator_version for s in snapshots] == [100]

    wallet = ledger.get_wallet("alice", "USD")
    assert wallet.balance == POSTINGS * (POSTINGS + 1) // 2
    assert wallet.version == POSTINGS + 1
    replayed = replay_without_snapshots(ledger, "alice", "USD")
    assert (replayed.balance_minor, replayed.version) == (wallet.balance, wallet.version)


def test_a_snapshot_keeps_pending_holds_and_their_expiry(ledger: Ledger, clock: FakeClock) -> None:
    ledger.open_wallet("alice", "USD")
    ledger.credit_wallet("alice", 1000, "USD")
    lapsing = ledger.place_hold("alice", 300, "USD", expires_in_s=60).value
    ledger.place_hold("alice", 200, "USD")
    for _ in range(POSTINGS):
        ledger.credit_wallet("alice", 1, "USD")
    assert ledger.snapshots is not None
    assert list(ledger.snapshots.get(wallet_id("alice", "USD")))

    wallet = ledger.get_wallet("alice", "USD")
    assert (wallet.balance, wallet.held) == (1000 + POSTINGS, 500)
    clock.advance(60)
    assert ledger.get_wallet("alice", "USD").held == 200

    # The lapsed hold is released from the snapshotted state like from a full replay.
    ledger.debit_wallet("alice", 1000 + POSTINGS - 200, "USD")
    replayed = replay_without_snapshots(ledger, "alice", "USD")
    assert replayed.balance_minor == 200
    assert str(lapsing.id) not in replayed.holds
    assert replayed.held_minor(clock.now()) == 200
    assert ledger.get_wallet("alice", "USD").available == 0
