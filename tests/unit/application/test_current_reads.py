"""Reads and retries bring a cached aggregate up to date from the log (`runner.current`).

Another process's write is simulated by putting the wallet's older state back into this
process's cache after a write: the log then holds events the cache has not seen, exactly as
when a second server process wrote them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.ids import wallet_id
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import CountingGateway
from tests.unit.application.support import CALLER, POPO_ENV, App, make_app, make_ledger

pytestmark = pytest.mark.unit


@pytest.fixture
def funded(clock: FakeClock, gateway: CountingGateway) -> App:
    cached_env = {**POPO_ENV, "AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    app = make_app(clock, gateway, ledger=make_ledger(cached_env))
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.open_wallet(CALLER, "bob", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 1000, "USD")
    return app


def cached(app: App, customer_id: str) -> Any:
    cache = app.ledger.repository.cache
    assert cache
    return cache.get(wallet_id(customer_id, "USD"))


def written_elsewhere(app: App, amount: int) -> None:
    """A credit lands in the log while the cache keeps the state from before it."""
    stale = copy.deepcopy(cached(app, "alice"))
    app.wallets.credit_wallet(CALLER, "alice", amount, "USD")
    cache = app.ledger.repository.cache
    assert cache
    cache.put(stale.id, stale)


def test_a_read_sees_what_the_cache_missed_and_refreshes_the_cache(funded: App) -> None:
    written_elsewhere(funded, 250)
    assert cached(funded, "alice").balance_minor == 1000  # stale, as another process leaves it

    wallet = funded.wallets.get_wallet(CALLER, "alice", "USD")

    assert wallet.balance == 1250
    assert cached(funded, "alice").balance_minor == 1250
    assert cached(funded, "alice").version == wallet.version


def test_a_read_hands_out_a_copy_the_cache_does_not_share(funded: App) -> None:
    account = funded.runner.read_wallet("alice", "USD")
    assert account is not cached(funded, "alice")


def test_after_a_conflict_commands_read_the_log_first_and_stop_conflicting(
    funded: App,
) -> None:
    written_elsewhere(funded, 100)
    funded.wallets.transfer(CALLER, "alice", "bob", 10, "USD")  # built on the stale copy
    assert funded.runner.conflicts == 1

    written_elsewhere(funded, 100)
    funded.wallets.transfer(CALLER, "alice", "bob", 10, "USD")  # fast-forwarded first

    assert funded.runner.conflicts == 1
    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1000 + 200 - 20


def test_without_conflicts_commands_trust_the_cache(funded: App) -> None:
    written_elsewhere(funded, 100)
    funded.wallets.transfer(CALLER, "alice", "bob", 10, "USD")

    # The stale copy was used, and the version check caught it: one conflict, retried.
    assert funded.runner.conflicts == 1
    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1090


def test_a_wallets_own_credits_and_debits_always_read_the_log_first(funded: App) -> None:
    written_elsewhere(funded, 100)
    written = funded.wallets.debit_wallet(CALLER, "alice", 10, "USD")

    assert funded.runner.conflicts == 0
    assert written.value.postings[0].balance_after == 1090
