"""Optimistic concurrency: a conflicting command is retried a bounded number of times.

These tests force the interleavings in-process (a competing write lands between a command's
read and its save). Races between real server processes are the integration tests' job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from application.errors import ConcurrencyConflictError
from domain.errors import InsufficientFundsError
from domain.journal import JournalTransaction
from tests.unit.application.support import CALLER, App, read_log, wallet_state

pytestmark = pytest.mark.unit

BARRIER_TIMEOUT_S = 5.0


class CompetingWriter:
    """Wraps `ledger.save`: before each of the next `times` saves, another command is saved
    first, so the command being saved was built on a stale version. Records what it did."""

    def __init__(self, app: App, competitor: Callable[[], Any], times: int = 1) -> None:
        self.ledger = app
        self.competitor = competitor
        self.times_left = times
        self.competitor_results: list[Any] = []
        self._save = app.ledger.save
        self._busy = False

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        if self.times_left > 0 and not self._busy:
            self.times_left -= 1
            self._busy = True  # the competitor's own save goes straight through
            try:
                self.competitor_results.append(self.competitor())
            finally:
                self._busy = False
        return self._save(*aggregates, **kwargs)


def journal_kinds(app: App) -> list[str]:
    return [e.kind for _, e in read_log(app) if isinstance(e, JournalTransaction.Recorded)]


@pytest.fixture
def funded(app: App) -> App:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    return app


def test_a_command_that_conflicts_is_retried_and_applied_exactly_once(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = CompetingWriter(
        funded, lambda: funded.wallets.credit_wallet(CALLER, "alice", 5, "USD")
    )
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    written = funded.wallets.debit_wallet(CALLER, "alice", 100, "USD")

    assert funded.runner.conflicts == 1
    assert written.replayed is False
    debited = written.value.postings[0]
    assert (debited.amount, debited.balance_after) == (-100, 905)
    assert journal_kinds(funded) == ["credit", "credit", "debit"]
    assert wallet_state(funded, "alice", "USD")[0] == 905


def test_a_transfer_that_conflicts_on_its_target_is_retried(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = CompetingWriter(funded, lambda: funded.wallets.credit_wallet(CALLER, "bob", 7, "USD"))
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    funded.wallets.transfer(CALLER, "alice", "bob", 100, "USD")

    assert funded.runner.conflicts == 1
    assert journal_kinds(funded) == ["credit", "credit", "transfer"]
    assert wallet_state(funded, "alice", "USD")[0] == 900
    assert wallet_state(funded, "bob", "USD")[0] == 107


def test_a_retry_refuses_what_the_competing_change_made_impossible(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = CompetingWriter(
        funded, lambda: funded.wallets.debit_wallet(CALLER, "alice", 950, "USD")
    )
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    with pytest.raises(InsufficientFundsError):
        funded.wallets.debit_wallet(CALLER, "alice", 100, "USD")

    assert funded.runner.conflicts == 1
    assert journal_kinds(funded) == ["credit", "debit"]
    assert wallet_state(funded, "alice", "USD")[0] == 50


def test_a_conflict_with_the_same_idempotent_request_returns_the_winners_result(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    def same_request() -> Any:
        return funded.wallets.debit_wallet(CALLER, "alice", 100, "USD", "rent", idempotency_key="k")

    writer = CompetingWriter(funded, same_request)
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    written = same_request()

    # The save collided with the winner's claim of the key: a replay, not a conflict retried.
    assert funded.runner.conflicts == 0
    assert written.replayed is True
    assert written.value == writer.competitor_results[0].value
    assert journal_kinds(funded) == ["credit", "debit"]
    assert wallet_state(funded, "alice", "USD")[0] == 900


def test_raises_a_concurrency_conflict_when_retries_are_exhausted_and_changes_nothing(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    funded.runner.retries_max = 1
    writer = CompetingWriter(
        funded, lambda: funded.wallets.credit_wallet(CALLER, "alice", 5, "USD"), times=10
    )
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    with pytest.raises(ConcurrencyConflictError) as caught:
        funded.wallets.debit_wallet(CALLER, "alice", 100, "USD")

    assert caught.value.code == "concurrency_conflict"
    # Every attempt conflicted, and there were at most 1 + retries_max of them.
    attempts = len(writer.competitor_results)
    assert funded.runner.conflicts == attempts
    assert 1 <= attempts <= 1 + funded.runner.retries_max
    # Only the competitor's credits landed; the debit left no trace.
    assert journal_kinds(funded) == ["credit"] * (1 + attempts)
    assert wallet_state(funded, "alice", "USD")[0] == 1000 + 5 * attempts


def test_the_number_of_attempts_is_bounded_by_retries_max(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    funded.runner.retries_max = 3
    writer = CompetingWriter(
        funded, lambda: funded.wallets.credit_wallet(CALLER, "alice", 5, "USD"), times=100
    )
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    with pytest.raises(ConcurrencyConflictError):
        funded.wallets.debit_wallet(CALLER, "alice", 100, "USD")

    assert 3 <= len(writer.competitor_results) <= 4
    assert funded.runner.conflicts == len(writer.competitor_results)
    assert "debit" not in journal_kinds(funded)


def test_one_conflict_fewer_than_the_limit_still_succeeds(
    funded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    funded.runner.retries_max = 3
    writer = CompetingWriter(
        funded, lambda: funded.wallets.credit_wallet(CALLER, "alice", 5, "USD"), times=2
    )
    monkeypatch.setattr(funded.ledger, "save", writer.save)

    funded.wallets.debit_wallet(CALLER, "alice", 100, "USD")

    assert funded.runner.conflicts == 2
    assert journal_kinds(funded) == ["credit", "credit", "credit", "debit"]
    assert wallet_state(funded, "alice", "USD")[0] == 1000 + 10 - 100


def run_together(*commands: Callable[[], Any]) -> list[str]:
    """Start the commands on threads at the same moment; return how each ended."""
    start = threading.Barrier(len(commands), timeout=BARRIER_TIMEOUT_S)

    def outcome(command: Callable[[], Any]) -> str:
        start.wait()
        try:
            command()
        except InsufficientFundsError:
            return "insufficient_funds"
        return "ok"

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return [f.result() for f in [pool.submit(outcome, c) for c in commands]]


def test_racing_debits_never_overdraw_the_wallet(funded: App) -> None:
    # Whether the race is settled by a version conflict or by waiting, one debit must lose.
    outcomes = run_together(*[lambda: funded.wallets.debit_wallet(CALLER, "alice", 600, "USD")] * 2)

    assert sorted(outcomes) == ["insufficient_funds", "ok"]
    assert wallet_state(funded, "alice", "USD")[0] == 400
    assert journal_kinds(funded) == ["credit", "debit"]


def test_racing_transfers_in_both_directions_both_land_exactly_once(funded: App) -> None:
    funded.wallets.credit_wallet(CALLER, "bob", 1000, "USD")

    outcomes = run_together(
        lambda: funded.wallets.transfer(CALLER, "alice", "bob", 300, "USD"),
        lambda: funded.wallets.transfer(CALLER, "bob", "alice", 100, "USD"),
    )

    assert outcomes == ["ok", "ok"]
    assert journal_kinds(funded).count("transfer") == 2
    assert wallet_state(funded, "alice", "USD")[0] == 800
    assert wallet_state(funded, "bob", "USD")[0] == 1200
