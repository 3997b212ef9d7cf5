"""The installments read model on every backend (in memory, SQLite, PostgreSQL), fed by the
real projection over plans made by the real use cases; and two schedulers, each with its own
event-store connection pool and cache (as two processes have), racing on the same due
installments on PostgreSQL: one charge each."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.eventstore.config import eventstore_env
from adapters.views.factory import _opened, open_view_database
from adapters.views.installments_view import SqlInstallmentsView
from application.installment_queries import InstallmentQueries
from application.installments import InstallmentService, PlanRequest
from application.installments_projection import InstallmentsProjection
from application.ledger import Ledger
from application.principal import Principal
from application.projection_runner import ProjectionRunner
from domain.installment_plan import InstallmentStatus, PlanStatus, RetryPolicy
from domain.money import Money
from domain.payment import Payment
from domain.user import UserRole
from tests.support.services import POSTGRES, postgres_schema
from tests.support.views import postgres_connection
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import GOOD_CARD, CountingGateway, token_of
from tests.unit.application.support import CALLER, MAPPER_TOPIC, App, make_app, read_log

pytestmark = pytest.mark.integration

APP = "payledger"
DAY_S = 86_400.0
POLICY = RetryPolicy(attempts_max=2, backoff_s=60, backoff_cap_s=60)
ALICE = Principal("alice", frozenset({UserRole.CUSTOMER}))
BOB = Principal("bob", frozenset({UserRole.CUSTOMER}))
AUDITOR = Principal("audrey", frozenset({UserRole.AUDITOR}))
RACES = 8


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def view(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlInstallmentsView]:
    if request.param == "memory":
        database = open_view_database("memory")
    elif request.param == "sqlite":
        database = open_view_database("sqlite", sqlite_path=tmp_path / "view.db")
    else:
        with postgres_schema() as schema:
            database = open_view_database("postgres", postgres=postgres_connection(schema))
            opened = _opened(SqlInstallmentsView(database, APP), True)
            try:
                yield opened
            finally:
                opened.close()
            return
    opened = _opened(SqlInstallmentsView(database, APP), True)
    yield opened
    opened.close()


def test_lists_plans_and_finds_due_installments_as_the_clock_moves(
    view: SqlInstallmentsView,
) -> None:
    clock = FakeClock()
    app = make_app(clock)
    service = InstallmentService(app.runner, app.settlement, POLICY)
    runner = ProjectionRunner(app.ledger, InstallmentsProjection(view, app.ledger))
    queries = InstallmentQueries(view, app.ledger.log_position, clock, wait_timeout_s=5)
    alices = service.create_plan(ALICE, PlanRequest("alice", Money(1_000, "USD"), 2)).value
    service.activate_plan(ALICE, alices.id)
    clock.advance(10)
    bobs = service.create_plan(BOB, PlanRequest("bob", Money(900, "EUR"), 3)).value
    runner.catch_up()

    assert [p.id for p in queries.plans(AUDITOR).items] == [bobs.id, alices.id]
    assert [p.id for p in queries.plans(ALICE).items] == [alices.id]
    assert queries.plans(ALICE, customer_id="bob").items == []
    assert [p.id for p in queries.plans(AUDITOR, status=PlanStatus.PENDING).items] == [bobs.id]
    page = queries.plans(AUDITOR, limit=1)
    assert page.next_cursor is not None
    assert [p.id for p in queries.plans(AUDITOR, cursor=page.next_cursor).items] == [alices.id]

    # Alice's first installment fell due at creation; Bob's plan is not active.
    due = queries.due(AUDITOR)
    assert [(i.order_id, i.number, i.status) for i in due.items] == [
        (alices.id, 1, InstallmentStatus.DUE)
    ]
    assert queries.due(BOB).items == []
    clock.advance(31 * DAY_S)
    assert [i.number for i in queries.due(ALICE).items] == [1, 2]
    assert view.due_installments("alice", clock.now(), 1) == [(alices.id, 1)]
    listed = queries.plans(ALICE).items[0]
    assert [i.status for i in listed.installments] == [InstallmentStatus.DUE] * 2

    service.cancel_plan(ALICE, alices.id)
    runner.catch_up()
    assert queries.due(AUDITOR).items == []
    assert queries.plans(ALICE).items[0].status == PlanStatus.CANCELLED


def test_an_event_already_applied_changes_nothing(view: SqlInstallmentsView) -> None:
    view.put_plan(UUID(int=1), "alice", "ACTIVE", b"{}", [], Tracking(APP, 5))
    before = view.page_plans(None, None, None, 10)

    with pytest.raises(IntegrityError):
        view.put_plan(UUID(int=1), "bob", "CANCELLED", b"[]", [], Tracking(APP, 5))

    assert view.page_plans(None, None, None, 10) == before
    assert view.position() == 5


def _postgres_app(env: dict[str, str], clock: FakeClock, gateway: CountingGateway) -> App:
    return make_app(clock, gateway, ledger=Ledger(env=env))


def test_two_schedulers_racing_on_postgres_charge_each_installment_once() -> None:
    clock = FakeClock()
    with postgres_schema() as schema:
        env = {**POSTGRES.eventsourcing_env(schema), "MAPPER_TOPIC": MAPPER_TOPIC}
        env = {**env, **{f"PAYLEDGER_{key}": value for key, value in env.items()}}
        gateways = (CountingGateway(), CountingGateway())
        first = _postgres_app(env, clock, gateways[0])
        second = _postgres_app({**env, "PAYLEDGER_CREATE_TABLE": "no"}, clock, gateways[1])
        try:
            services = [InstallmentService(a.runner, a.settlement, POLICY) for a in (first, second)]
            first.wallets.open_wallet(CALLER, "alice", "USD")
            first.wallets.credit_wallet(CALLER, "alice", 1_000 * RACES, "USD")
            request = PlanRequest(
                "alice", Money(2_000, "USD"), 1, payment_method=token_of(GOOD_CARD)
            )
            plans = []
            for _ in range(RACES):
                plan = services[0].create_plan(ALICE, request).value
                services[0].activate_plan(ALICE, plan.id)
                plans.append(plan.id)
            _race(services, plans)

            events = [event for _, event in read_log(first)]
            created = [e for e in events if isinstance(e, Payment.Created)]
            assert len(created) == RACES
            assert len({e.originator_id for e in created}) == RACES
            # The wallet paid 1,000 x RACES, the card the rest: each payment once.
            calls = [call for gateway in gateways for call in gateway.charge_calls]
            assert len({call.idempotency_key for call in calls}) == len(calls)
            assert sum(call.amount_minor for call in calls) == 1_000 * RACES
            # The race was real: the event store refused some of the losers' saves.
            assert first.runner.conflicts + second.runner.conflicts >= 1
            wallet = first.wallets.get_wallet(CALLER, "alice", "USD")
            assert (wallet.balance, wallet.held) == (0, 0)
        finally:
            first.ledger.close()
            second.ledger.close()


def _race(services: list[InstallmentService], plans: list[UUID]) -> None:
    """Both services charge installment 1 of every plan at once, plan after plan."""
    errors: list[BaseException] = []

    def run(service: InstallmentService, barrier: threading.Barrier, plan_id: UUID) -> None:
        try:
            barrier.wait(timeout=10)
            service.charge_installment(plan_id, 1)
        except BaseException as error:  # reported below
            errors.append(error)

    for plan_id in plans:
        barrier = threading.Barrier(len(services))
        threads = [threading.Thread(target=run, args=(s, barrier, plan_id)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == [], errors


def test_a_process_with_a_stale_copy_of_the_plan_still_records_the_outcome(
    tmp_path: Path,
) -> None:
    """Process B holds a cached plan from before process A started a charge; B's scheduler
    is the one that sees the charge succeed. The outcome must not be lost."""
    clock = FakeClock()
    env = eventstore_env("sqlite", sqlite_path=tmp_path / "events.sqlite3", cache_size=100)
    a = make_app(clock, ledger=Ledger(env=env))
    b = make_app(clock, ledger=Ledger(env={**env, "CREATE_TABLE": "n"}))
    try:
        a_service = InstallmentService(a.runner, a.settlement, POLICY)
        b_service = InstallmentService(b.runner, b.settlement, POLICY)
        a.wallets.open_wallet(CALLER, "alice", "USD")
        a.wallets.credit_wallet(CALLER, "alice", 500, "USD")
        request = PlanRequest("alice", Money(1_000, "USD"), 1, payment_method=token_of(GOOD_CARD))
        plan_id = a_service.create_plan(ALICE, request).value.id
        b_service.activate_plan(ALICE, plan_id)  # B caches the plan, ACTIVE
        b.ledger.repository.get(plan_id)

        payment_id = a_service.charge_installment(plan_id, 1)  # A charges; B's copy is stale
        assert payment_id is not None

        assert b_service.record_outcome(payment_id) == InstallmentStatus.PAID
        assert a_service.get_plan(ALICE, plan_id).status == PlanStatus.COMPLETED
        # And B, asked to charge with its stale copy, does not charge again.
        assert b_service.charge_installment(plan_id, 1) is None
        created = [e for _, e in read_log(a) if isinstance(e, Payment.Created)]
        assert len(created) == 1
    finally:
        a.ledger.close()
        b.ledger.close()
