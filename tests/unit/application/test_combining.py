"""A busy wallet's credits and debits run as batches with one commit each
(`CommandRunner.run_combined`), and answer exactly as one command at a time would."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.runner import _restore
from domain.account import Account
from domain.errors import InsufficientFundsError
from domain.ids import wallet_id
from tests.unit.application.support import CALLER, App, read_log, wallet_state

pytestmark = pytest.mark.unit

WAIT_S = 5.0


class GatedSaves:
    """Wraps `ledger.save`: counts the saves, and holds the first one until `release()`."""

    def __init__(self, app: App) -> None:
        self._save = app.ledger.save
        self.saves = 0
        self.first_entered = threading.Event()
        self._gate = threading.Event()

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        self.saves += 1
        if not self.first_entered.is_set():
            self.first_entered.set()
            assert self._gate.wait(WAIT_S)
        return self._save(*aggregates, **kwargs)

    def release(self) -> None:
        self._gate.set()


def queued_behind_the_leader(app: App, customer_id: str) -> int:
    combiner = app.runner._combiners.of(wallet_id(customer_id, "USD"))
    return len(combiner._queue)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call().value.postings[0].balance_after
    except InsufficientFundsError:
        return "refused"


@pytest.fixture
def alice(app: App) -> App:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 100, "USD")
    return app


def test_debits_queued_behind_a_commit_run_as_one_batch_in_order(
    alice: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = GatedSaves(alice)
    monkeypatch.setattr(alice.ledger, "save", gated.save)

    def debit(amount: int) -> Callable[[], Any]:
        return lambda: outcome(lambda: alice.wallets.debit_wallet(CALLER, "alice", amount, "USD"))

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(debit(10))
        assert gated.first_entered.wait(WAIT_S)  # the leader is committing its own debit
        queued = []
        for position, amount in enumerate((50, 60, 40), start=1):
            queued.append(pool.submit(debit(amount)))
            wait_until(lambda n=position: queued_behind_the_leader(alice, "alice") == n)
        gated.release()
        answers = [first.result(WAIT_S), *(f.result(WAIT_S) for f in queued)]

    # As one at a time: 100 - 10 = 90, - 50 = 40, 60 refused (40 left), - 40 = 0.
    assert answers == [90, 40, "refused", 0]
    assert gated.saves == 2  # the leader's debit, then the three queued behind it at once
    assert wallet_state(alice, "alice", "USD")[:3] == (0, 0, 0)
    debits = [e for _, e in read_log(alice) if type(e).__name__ == "Recorded"]
    assert [e.postings[0].balance_after_minor for e in debits][-3:] == [90, 40, 0]


def test_racing_debits_on_one_wallet_commit_in_batches_and_never_overdraw(alice: App) -> None:
    saves = 0
    save = alice.ledger.save

    def counting_save(*aggregates: Any, **kwargs: Any) -> Any:
        nonlocal saves
        saves += 1
        time.sleep(0.002)  # a commit takes a while: debits queue behind it
        return save(*aggregates, **kwargs)

    alice.ledger.save = counting_save  # type: ignore[method-assign]
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: outcome(lambda: alice.wallets.debit_wallet(CALLER, "alice", 3, "USD")),
                range(60),
            )
        )

    succeeded = sorted(a for a in answers if a != "refused")
    assert succeeded == list(range(100 - 3 * 33, 100, 3))  # 33 debits of 3 fit in 100
    assert answers.count("refused") == 60 - 33
    assert wallet_state(alice, "alice", "USD")[0] == 1
    assert saves < 33, f"{saves} commits for 33 debits: nothing was combined"


def test_a_refused_command_leaves_the_batchs_shared_aggregates_as_it_found_them() -> None:
    wallet = Account.open("alice", "USD")
    wallet.credit(100, "USD", uuid4(), "credit", "funding")
    other = Account.open("bob", "USD")
    loaded: dict[UUID, Any] = {wallet.id: wallet}
    before = {key: copy.deepcopy(aggregate) for key, aggregate in loaded.items()}

    wallet.debit(30, "USD", uuid4(), "debit", "half done when it failed", datetime.now(UTC))
    loaded[other.id] = other  # loaded by the failed command itself

    _restore(loaded, before)

    assert loaded == {wallet.id: wallet}  # the same object: earlier commands hold it
    assert (wallet.balance_minor, wallet.version) == (100, before[wallet.id].version)
    assert len(wallet.collect_events()) == 2  # opened and credited, not the debit
