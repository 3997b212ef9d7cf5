"""Settling a batch of wallet payments together: one commit for the batch, each wallet loaded
once, and the same outcomes as settling the payments one at a time (each settles once, an
overdraft fails with `INSUFFICIENT_FUNDS`, decided on the log's state)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.popo import POPOTrackingRecorder

from application.payment_processor import PaymentProcessor
from application.payments import PaymentRequest
from application.projection_runner import ProjectionRunner
from application.wallet_settlement import WALLET_BATCH_MAX
from domain.ids import wallet_id
from domain.payment import FAILED, SUCCESS, Payment
from domain.payment_terms import INSUFFICIENT_FUNDS, PaymentMethod
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    GOOD_CARD,
    CountingGateway,
    assert_money_conserved,
    card,
    journals,
)
from tests.unit.application.support import (
    CALLER,
    POPO_ENV,
    App,
    log_position,
    make_app,
    make_ledger,
    wallet_state,
)
from tests.unit.application.test_concurrency import CompetingWriter

pytestmark = pytest.mark.unit


class SaveCounter:
    """Wraps `ledger.save` and counts the calls (each is one transaction)."""

    def __init__(self, app: App) -> None:
        self.saves = 0
        self._save = app.ledger.save
        app.ledger.save = self.save  # type: ignore[method-assign]

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        self.saves += 1
        return self._save(*aggregates, **kwargs)


CACHED_ENV = {**POPO_ENV, "AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "n"}


@pytest.fixture(params=["from the log", "from a cache"])
def app(request: pytest.FixtureRequest, clock: FakeClock, gateway: CountingGateway) -> App:
    """Aggregates read from the log each time, or (as `serve` runs) from a cache that is
    not re-read before each command."""
    cached = request.param == "from a cache"
    return make_app(clock, gateway, ledger=make_ledger(CACHED_ENV) if cached else None)


@pytest.fixture
def funded(app: App) -> Iterator[App]:
    for name, balance in (("alice", 5_000), ("bob", 100_000)):
        app.wallets.open_wallet(CALLER, name, "USD")
        app.wallets.credit_wallet(CALLER, name, balance, "USD")
    yield app
    assert_money_conserved(app)


def pay(app: App, payer: str, amount: int) -> UUID:
    request = PaymentRequest(payer, "school", amount, "USD", PaymentMethod.WALLET)
    return app.payments.create_payment(CALLER, request).value.id


def payment(app: App, payment_id: UUID) -> Payment:
    return app.runner.read(Payment, payment_id, LookupError)  # type: ignore[arg-type]


def versions(*payment_ids: UUID) -> dict[UUID, int]:
    """As the processor builds it: each payment at the version of its `Created` event."""
    return dict.fromkeys(payment_ids, 1)


def test_a_batch_of_wallet_payments_settles_in_one_commit(funded: App) -> None:
    ids = [pay(funded, "alice", 100), pay(funded, "bob", 200), pay(funded, "alice", 300)]
    counter = SaveCounter(funded)

    statuses = funded.settlement.settle_batch(versions(*ids))

    assert counter.saves == 1
    assert statuses == dict.fromkeys(ids, SUCCESS)
    assert wallet_state(funded, "alice", "USD")[0] == 5_000 - 400
    assert wallet_state(funded, "bob", "USD")[0] == 100_000 - 200
    assert sorted(j.reference for j in journals(funded, "payment")) == sorted(str(i) for i in ids)


def test_payments_a_wallet_cannot_cover_fail_with_insufficient_funds_in_log_order(
    funded: App,
) -> None:
    first, second, third = (pay(funded, "alice", 2_000) for _ in range(3))
    small = pay(funded, "alice", 1_000)  # fits in what is left after the first two

    statuses = funded.settlement.settle_batch(versions(first, second, third, small))

    assert statuses == {first: SUCCESS, second: SUCCESS, third: FAILED, small: SUCCESS}
    failed = payment(funded, third)
    assert failed.failure_reason == INSUFFICIENT_FUNDS
    assert not failed.retryable
    assert wallet_state(funded, "alice", "USD")[0] == 0
    assert journals(funded, "payment", str(third)) == []


def test_a_failed_batch_payment_has_the_same_events_as_one_settled_alone(funded: App) -> None:
    alone, batched = pay(funded, "alice", 9_000), pay(funded, "alice", 9_000)

    funded.settlement.advance(alone)
    funded.settlement.settle_batch(versions(batched))

    def shape(payment_id: UUID) -> list[tuple[str, str]]:
        return [
            (type(e).__qualname__, getattr(e, "reason", ""))
            for e in funded.ledger.events.get(payment_id)
        ]

    assert shape(alone) == shape(batched)
    assert payment(funded, batched).failure_reason == INSUFFICIENT_FUNDS


@pytest.mark.parametrize("app", ["from a cache"], indirect=True)
def test_a_wallet_that_looks_too_poor_in_the_cache_is_decided_on_the_log(funded: App) -> None:
    key = wallet_id("alice", "USD")
    stale = copy.deepcopy(funded.ledger.repository.get(key))
    funded.wallets.credit_wallet(CALLER, "alice", 10_000, "USD")
    funded.ledger.repository.cache.put(key, stale)  # as another process's credit leaves it
    paid = pay(funded, "alice", 12_000)

    assert funded.settlement.settle_batch(versions(paid)) == {paid: SUCCESS}
    assert wallet_state(funded, "alice", "USD")[0] == 3_000


def test_a_payment_settled_meanwhile_is_left_alone_and_the_rest_settle_once(
    funded: App,
) -> None:
    ids = [pay(funded, "alice", 100) for _ in range(4)]
    # Another caller settles the second payment between the batch's reads and its save.
    competing = CompetingWriter(funded, lambda: funded.settlement.advance(ids[1]))
    funded.ledger.save = competing.save  # type: ignore[method-assign]

    statuses = funded.settlement.settle_batch(versions(*ids))

    assert competing.competitor_results == [SUCCESS]
    assert funded.runner.conflicts == 1  # the batch was re-run on what the log then said
    assert statuses == dict.fromkeys(ids, SUCCESS)
    assert all(len(journals(funded, "payment", str(i))) == 1 for i in ids)
    assert wallet_state(funded, "alice", "USD")[0] == 5_000 - 400


def test_settling_the_same_batch_again_writes_nothing(funded: App) -> None:
    ids = [pay(funded, "alice", 100), pay(funded, "bob", 100)]
    funded.settlement.settle_batch(versions(*ids))
    position = log_position(funded)

    assert funded.settlement.settle_batch(versions(*ids)) == dict.fromkeys(ids, SUCCESS)
    assert log_position(funded) == position


def test_payments_a_batch_cannot_settle_are_left_for_advance(funded: App) -> None:
    by_card = PaymentRequest("", "shop", 500, "USD", PaymentMethod.CARD, card=card(GOOD_CARD))
    card_paid = funded.payments.create_payment(CALLER, by_card).value.id
    ahead = pay(funded, "alice", 100)  # its event is newer than what this process holds
    unknown = UUID(int=7)
    position = log_position(funded)

    statuses = funded.settlement.settle_batch({card_paid: 1, ahead: 5, unknown: 1})

    assert statuses == {}
    assert log_position(funded) == position


def test_a_batch_larger_than_the_limit_commits_once_per_chunk(funded: App) -> None:
    ids = [pay(funded, "bob", 1) for _ in range(WALLET_BATCH_MAX + 1)]
    counter = SaveCounter(funded)

    statuses = funded.settlement.settle_batch(versions(*ids))

    assert counter.saves == 2
    assert set(statuses.values()) == {SUCCESS}
    assert wallet_state(funded, "bob", "USD")[0] == 100_000 - WALLET_BATCH_MAX - 1


def test_two_processors_on_one_log_settle_each_wallet_payment_once(funded: App) -> None:
    ids = [pay(funded, payer, 100) for payer in ("alice", "bob") * 10]
    runners = [
        ProjectionRunner(
            funded.ledger,
            PaymentProcessor(POPOTrackingRecorder(), funded.settlement, funded.clock),
            batch_size=500,
        )
        for _ in range(2)
    ]

    for runner in runners:
        runner.catch_up()

    assert {payment(funded, i).status for i in ids} == {SUCCESS}
    assert all(len(journals(funded, "payment", str(i))) == 1 for i in ids)
    assert wallet_state(funded, "alice", "USD")[0] == 5_000 - 1_000
