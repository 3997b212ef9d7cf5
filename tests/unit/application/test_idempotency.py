"""Idempotency keys: a replay returns the original result; a changed request is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from application.errors import IdempotencyKeyReusedError
from application.ledger import Ledger
from domain.ids import idempotent_id
from domain.journal import JournalTransaction
from tests.unit.application.support import (
    CALLER,
    App,
    caller,
    count_events,
    ledger_state,
    log_position,
    read_log,
)

pytestmark = pytest.mark.unit

ALICE, BOB = ("alice", "USD"), ("bob", "USD")
KEY = "key-1"

Command = Callable[[Ledger, UUID, str], Any]


@pytest.fixture
def world(app: App) -> tuple[App, UUID]:
    """Alice holds 1000 USD with a pending 300 hold on it; Bob holds 0 USD."""
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    hold = app.holds.place_hold(CALLER, "alice", 300, "USD", description="deposit")
    return app, hold.value.id


# (the command, the same command with one field changed), both under the key given.
COMMANDS: dict[str, tuple[Command, Command]] = {
    "credit": (
        lambda app, _, key: app.wallets.credit_wallet(CALLER, "alice", 100, "USD", "x", key),
        lambda app, _, key: app.wallets.credit_wallet(CALLER, "alice", 101, "USD", "x", key),
    ),
    "debit": (
        lambda app, _, key: app.wallets.debit_wallet(CALLER, "alice", 100, "USD", "x", key),
        lambda app, _, key: app.wallets.debit_wallet(CALLER, "alice", 100, "USD", "y", key),
    ),
    "transfer": (
        lambda app, _, key: app.wallets.transfer(CALLER, "alice", "bob", 100, "USD", "x", key),
        lambda app, _, key: app.wallets.transfer(CALLER, "alice", "bob", 100, "JPY", "x", key),
    ),
    "place_hold": (
        lambda app, _, key: app.holds.place_hold(CALLER, "alice", 50, "USD", 60, "x", key),
        lambda app, _, key: app.holds.place_hold(CALLER, "alice", 50, "USD", 61, "x", key),
    ),
    "post_hold": (
        lambda app, hold_id, key: app.holds.post_hold(CALLER, hold_id, 100, None, "x", key),
        lambda app, hold_id, key: app.holds.post_hold(CALLER, hold_id, 100, "bob", "x", key),
    ),
    "void_hold": (
        lambda app, hold_id, key: app.holds.void_hold(CALLER, hold_id, "cancelled", key),
        lambda app, hold_id, key: app.holds.void_hold(CALLER, hold_id, "changed mind", key),
    ),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_a_replay_returns_the_original_result_and_writes_nothing(
    world: tuple[App, UUID], name: str
) -> None:
    app, hold_id = world
    command, _ = COMMANDS[name]
    first = command(app, hold_id, KEY)
    before = ledger_state(app, ALICE, BOB)

    again = command(app, hold_id, KEY)

    assert first.replayed is False
    assert again.replayed is True
    assert again.position is None
    assert again.value == first.value
    assert ledger_state(app, ALICE, BOB) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_rejects_the_same_key_with_a_different_request_and_writes_nothing(
    world: tuple[App, UUID], name: str
) -> None:
    app, hold_id = world
    command, changed = COMMANDS[name]
    command(app, hold_id, KEY)
    before = ledger_state(app, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError) as caught:
        changed(app, hold_id, KEY)

    assert caught.value.code == "idempotency_key_reused"
    assert ledger_state(app, ALICE, BOB) == before


@pytest.mark.parametrize("second", ["debit", "transfer", "place_hold", "post_hold"])
def test_rejects_a_key_used_for_a_credit_in_another_operation(
    world: tuple[App, UUID], second: str
) -> None:
    app, hold_id = world
    COMMANDS["credit"][0](app, hold_id, KEY)
    before = ledger_state(app, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS[second][0](app, hold_id, KEY)

    assert ledger_state(app, ALICE, BOB) == before
    assert app.holds.get_hold(CALLER, hold_id).status == "PENDING"


@pytest.mark.parametrize("first", ["place_hold", "void_hold"])
def test_rejects_a_key_used_for_a_hold_in_a_credit(world: tuple[App, UUID], first: str) -> None:
    app, hold_id = world
    COMMANDS[first][0](app, hold_id, KEY)
    before = ledger_state(app, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["credit"][0](app, hold_id, KEY)

    assert ledger_state(app, ALICE, BOB) == before


def test_rejects_a_key_used_to_open_a_wallet_in_a_credit(world: tuple[App, UUID]) -> None:
    app, _ = world
    app.wallets.open_wallet(CALLER, "carol", "USD", idempotency_key=KEY)
    before = ledger_state(app, ALICE, ("carol", "USD"))

    with pytest.raises(IdempotencyKeyReusedError):
        app.wallets.credit_wallet(CALLER, "carol", 10, "USD", idempotency_key=KEY)

    assert ledger_state(app, ALICE, ("carol", "USD")) == before


def test_rejects_a_key_used_for_a_credit_when_voiding_a_hold(world: tuple[App, UUID]) -> None:
    app, hold_id = world
    app.runner.retries_max = 2  # the bug retries until exhausted: keep the test fast
    COMMANDS["credit"][0](app, hold_id, KEY)
    before = ledger_state(app, ALICE, BOB)

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["void_hold"][0](app, hold_id, KEY)

    assert ledger_state(app, ALICE, BOB) == before
    assert app.holds.get_hold(CALLER, hold_id).status == "PENDING"


def test_a_replayed_debit_returns_the_original_result_after_the_money_was_spent(
    app: App,
) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 500, "USD")
    first = app.wallets.debit_wallet(CALLER, "alice", 500, "USD", "rent", idempotency_key=KEY)
    assert app.wallets.get_wallet(CALLER, "alice", "USD").available == 0
    position = log_position(app)

    again = app.wallets.debit_wallet(CALLER, "alice", 500, "USD", "rent", idempotency_key=KEY)

    assert again.replayed is True
    assert again.value == first.value
    assert log_position(app) == position
    assert app.wallets.get_wallet(CALLER, "alice", "USD").balance == 0


def test_a_journal_entry_takes_the_id_its_key_names_within_its_scope(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")

    written = app.wallets.credit_wallet(caller("alice"), "alice", 5, "USD", idempotency_key=KEY)

    assert written.value.id == idempotent_id("alice", KEY)


def test_the_same_key_in_two_scopes_makes_two_transactions(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")

    first = app.wallets.credit_wallet(caller("shop-1"), "alice", 5, "USD", idempotency_key=KEY)
    second = app.wallets.credit_wallet(caller("shop-2"), "alice", 5, "USD", idempotency_key=KEY)

    assert first.value.id != second.value.id
    assert second.replayed is False
    assert app.wallets.get_wallet(CALLER, "alice", "USD").balance == 10


def test_without_a_key_every_call_is_a_new_transaction(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")

    app.wallets.credit_wallet(CALLER, "alice", 5, "USD")
    app.wallets.credit_wallet(CALLER, "alice", 5, "USD")

    assert count_events(app, JournalTransaction.Recorded) == 2
    assert app.wallets.get_wallet(CALLER, "alice", "USD").balance == 10


def test_a_refused_request_leaves_the_log_exactly_as_it_was(world: tuple[App, UUID]) -> None:
    app, hold_id = world
    COMMANDS["debit"][0](app, hold_id, KEY)
    events_before = [(position, type(event)) for position, event in read_log(app)]

    with pytest.raises(IdempotencyKeyReusedError):
        COMMANDS["debit"][1](app, hold_id, KEY)

    assert [(position, type(event)) for position, event in read_log(app)] == events_before


def test_a_replay_returns_the_original_result_even_after_later_changes(app: App) -> None:
    opened = app.wallets.open_wallet(CALLER, "carol", "USD", idempotency_key="open-carol")
    app.wallets.credit_wallet(CALLER, "carol", 500, "USD")
    placed = app.holds.place_hold(CALLER, "carol", 200, "USD", 60, "x", "hold-carol")
    app.holds.post_hold(CALLER, placed.value.id, 150)
    position = log_position(app)

    assert (
        app.wallets.open_wallet(CALLER, "carol", "USD", idempotency_key="open-carol").value
        == opened.value
    )
    replayed_hold = app.holds.place_hold(CALLER, "carol", 200, "USD", 60, "x", "hold-carol").value
    assert replayed_hold == placed.value
    assert replayed_hold.status == "PENDING"
    assert app.holds.get_hold(CALLER, placed.value.id).status == "POSTED"
    assert log_position(app) == position
