"""Reads and retries bring a cached aggregate up to date from the log (`runner.current`).

Another process's write is simulated by putting the wallet's older state back into this
process's cache after a write: the log then holds events the cache has not seen, exactly as
when a second server process wrote them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from application.log_head import Verified, WouldBlockError, reads_at, without_store
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


class EventReads:
    """Counts the ledger's reads of an aggregate's events."""

    def __init__(self, app: App) -> None:
        self.count = 0
        store = app.ledger.repository.event_store
        original = store.get

        def get(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        store.get = get  # type: ignore[method-assign]


def test_a_read_of_a_wallet_known_current_to_the_logs_head_reads_no_events(
    funded: App,
) -> None:
    reads = EventReads(funded)

    # The credit was saved here: the cached wallet is known to hold every event up to it.
    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1000
    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1000

    assert reads.count == 0


def test_once_the_log_moves_past_what_is_known_a_read_asks_for_newer_events(
    funded: App,
) -> None:
    written_elsewhere(funded, 250)
    funded.runner._verified = Verified()  # as in another process: nothing known of the write
    reads = EventReads(funded)

    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1250
    assert reads.count == 1
    # Now known current to the head: the next read asks nothing.
    assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1250
    assert reads.count == 1


def test_on_the_event_loop_a_read_uses_the_cache_or_refuses(funded: App) -> None:
    head = funded.ledger.log_position()
    assert head is not None
    with reads_at(head), without_store():
        assert funded.wallets.get_wallet(CALLER, "alice", "USD").balance == 1000
        with pytest.raises(WouldBlockError):  # not cached at all
            funded.wallets.get_wallet(CALLER, "nobody", "USD")

    written_elsewhere(funded, 5)
    funded.runner._verified = Verified()
    head = funded.ledger.log_position()
    assert head is not None
    with reads_at(head), without_store(), pytest.raises(WouldBlockError):
        funded.wallets.get_wallet(CALLER, "alice", "USD")


def test_a_shared_read_is_the_caches_own_state_and_a_plain_read_a_copy(funded: App) -> None:
    funded.wallets.get_wallet(CALLER, "alice", "USD")

    assert funded.runner.read_wallet("alice", "USD", shared=True) is cached(funded, "alice")
    assert funded.runner.read_wallet("alice", "USD") is not cached(funded, "alice")
