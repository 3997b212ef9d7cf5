"""Idempotency keys: a replay returns the original result; a changed request is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from application.ledger import Ledger
from domain.errors import IdempotencyKeyReusedError
from domain.ids import idempotent_id
from domain.journal import JournalTransaction
from tests.unit.application.support import count_events, ledger_state, log_position, read_log

pytestmark = pytest.mark.unit

ALICE, BOB = ("alice", "USD"), ("bob", "USD")
KEY = "key-1"

Command = Callable[[Ledger, UUID, str], Any]


@pytest.fixture
def world(ledger: Ledger) -> tuple[Ledger, UUID]:
    """Alice holds 1000 USD with a pending 300 hold on it; Bob holds 0 USD."""
    ledger.open_wallet("alice", "USD")
    ledger.open_wallet("bob", "USD")
    ledger.credit_wallet("alice", 1000, "USD")
    hold = ledger.place_hold("alice", 300, "USD", description="deposit")
    return ledger, hold.value.id


# (the command, the same command with one field changed), both under the key given.
COMMANDS: dict[str, tuple[Command, Command]] = {
    "credit": (
        lambda ledger, _, key: ledger.credit_wallet("alice", 100, "USD", "x", key),
        lambda ledger, _, key: ledger.credit_wallet("alice", 101, "USD", "x", key),
    ),
    "debit": (
        lambda ledger, _, key: ledger.debit_wallet("alice", 100, "USD", "x", key),
        lambda ledger, _, key: ledger.debit_wallet("alice", 100, "USD", "y", key),
    ),
    "transfer": (
        lambda ledger, _, key: ledger.transfer("alice", "bob", 100, "USD", "x", key),
        lambda ledger, _, key: ledger.transfer("alice", "bob", 100, "JPY", "x", key),
    ),
    "place_hold": (
        lambda ledger, _, key: ledger.place_hold("alice", 50, "USD", 60, "x", key),
        lambda ledger, _, key: ledger.place_hold("alice", 50, "USD", 61, "x", key),
    ),
    "post_hold": (
        lambda ledger, hold_id, key: ledger.post_hold(hold_id, 100, None, "x", key),
        lambda ledger, hold_id, key: ledger.post_hold(hold_id, 100, "bob", "x", key),
    ),
    "void_hold": (
        lambda ledger, hold_id, key: ledger.void_hold(hold_id, "cancelled", key),
        lambda ledger, hold_id, key: ledger.void_hold(hold_id, "changed mind", key),
    ),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_a_replay_returns_the_original_result_and_writes_nothing(
    world: tuple[Ledger, UUID], name: str
) -> None:
    ledger, hold_id = world
    command, _ = COMMANDS[name]
    first = command(ledger, hold_id, KEY)
    before = ledger_state(ledger, ALICE, BOB)

    again = command(ledger, hold_id, KEY)

    assert first.replayed is False
    assert again.replayed is True
    assert again.position is None
    assert again.value == first.value
    assert ledger_state(ledger, ALICE, BOB) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_rejects_the_same_key_with_a_different_request_and_writes_nothing(
    world: tuple[Ledger, UUID], name: str
) -> None:
    ledger, hold_id = world
    command, changed = COMMANDS[name]
    command(ledger, hold_id, KEY)
    before = ledger_state(ledger, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError) as caught:
        changed(ledger, hold_id, KEY)

    assert caught.value.code == "idempotency_key_reused"
    assert ledger_state(ledger, ALICE, BOB) == before


@pytest.mark.parametrize("second", ["debit", "transfer", "place_hold", "post_hold"])
def test_rejects_a_key_used_for_a_credit_in_another_operation(
    world: tuple[Ledger, UUID], second: str
) -> None:
    ledger, hold_id = world
    COMMANDS["credit"][0](ledger, hold_id, KEY)
    before = ledger_state(ledger, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS[second][0](ledger, hold_id, KEY)

    assert ledger_state(ledger, ALICE, BOB) == before
    assert ledger.get_hold(hold_id).status == "pending"


@pytest.mark.parametrize("first", ["place_hold", "void_hold"])
def test_rejects_a_key_used_for_a_hold_in_a_credit(world: tuple[Ledger, UUID], first: str) -> None:
    ledger, hold_id = world
    COMMANDS[first][0](ledger, hold_id, KEY)
    before = ledger_state(ledger, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["credit"][0](ledger, hold_id, KEY)

    assert ledger_state(ledger, ALICE, BOB) == before


def test_rejects_a_key_used_to_open_a_wallet_in_a_credit(world: tuple[Ledger, UUID]) -> None:
    ledger, _ = world
    ledger.open_wallet("carol", "USD", idempotency_key=KEY)
    before = ledger_state(ledger, ALICE, ("carol", "USD"))

    with pytest.raises(IdempotencyKeyReusedError):
        ledger.credit_wallet("carol", 10, "USD", idempotency_key=KEY)

    assert ledger_state(ledger, ALICE, ("carol", "USD")) == before


def test_rejects_a_key_used_for_a_credit_when_voiding_a_hold(world: tuple[Ledger, UUID]) -> None:
    ledger, hold_id = world
    ledger.retries_max = 2  # the bug retries until exhausted: keep the test fast
    COMMANDS["credit"][0](ledger, hold_id, KEY)
    before = ledger_state(ledger, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["void_hold"][0](ledger, hold_id, KEY)

    assert ledger_state(ledger, ALICE, BOB) == before
    assert ledger.get_hold(hold_id).status == "pending"


def test_a_replayed_debit_returns_the_original_result_after_the_money_was_spent(
    ledger: Ledger,
) -> None:
    ledger.open_wallet("alice", "USD")
    ledger.credit_wallet("alice", 500, "USD")
    first = ledger.debit_wallet("alice", 500, "USD", "rent", idempotency_key=KEY)
    assert ledger.get_wallet("alice", "USD").available == 0
    position = log_position(ledger)

    again = ledger.debit_wallet("alice", 500, "USD", "rent", idempotency_key=KEY)

    assert again.replayed is True
    assert again.value == first.value
    assert log_position(ledger) == position
    assert ledger.get_wallet("alice", "USD").balance == 0


def test_a_journal_entry_takes_the_id_its_key_names_within_its_scope(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")

    written = ledger.credit_wallet("alice", 5, "USD", idempotency_key=KEY, scope="alice")

    assert written.value.id == idempotent_id("alice", KEY)


def test_the_same_key_in_two_scopes_makes_two_transactions(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")

    first = ledger.credit_wallet("alice", 5, "USD", idempotency_key=KEY, scope="shop-1")
    second = ledger.credit_wallet("alice", 5, "USD", idempotency_key=KEY, scope="shop-2")

    assert first.value.id != second.value.id
    assert second.replayed is False
    assert ledger.get_wallet("alice", "USD").balance == 10


def test_without_a_key_every_call_is_a_new_transaction(ledger: Ledger) -> None:
    ledger.open_wallet("alice", "USD")

    ledger.credit_wallet("alice", 5, "USD")
    ledger.credit_wallet("alice", 5, "USD")

    assert count_events(ledger, JournalTransaction.Recorded) == 2
    assert ledger.get_wallet("alice", "USD").balance == 10


def test_a_refused_request_leaves_the_log_exactly_as_it_was(world: tuple[Ledger, UUID]) -> None:
    ledger, hold_id = world
    COMMANDS["debit"][0](ledger, hold_id, KEY)
    events_before = [(position, type(event)) for position, event in read_log(ledger)]

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["debit"][1](ledger, hold_id, KEY)

    assert [(position, type(event)) for position, event in read_log(ledger)] == events_before


def test_a_replay_returns_the_original_result_even_after_later_changes(ledger: Ledger) -> None:
    opened = ledger.open_wallet("carol", "USD", idempotency_key="open-carol")
    ledger.credit_wallet("carol", 500, "USD")
    placed = ledger.place_hold("carol", 200, "USD", 60, "x", "hold-carol")
    ledger.post_hold(placed.value.id, 150)
    position = log_position(ledger)

    assert ledger.open_wallet("carol", "USD", idempotency_key="open-carol").value == opened.value
    replayed_hold = ledger.place_hold("carol", 200, "USD", 60, "x", "hold-carol").value
    assert replayed_hold == placed.value
    assert replayed_hold.status == "pending"
    assert ledger.get_hold(placed.value.id).status == "posted"
    assert log_position(ledger) == position
