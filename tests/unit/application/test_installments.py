"""Installment plans on a moved clock: each installment charged once (wallet first, the card
for the rest), failures retried with backoff, completion and default; access; races."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.popo import POPOTrackingRecorder

from application.errors import ForbiddenError, InstallmentPlanNotFoundError
from application.installment_scheduler import InstallmentScheduler
from application.installments import InstallmentService, PlanRequest
from application.principal import Principal
from application.projection_runner import ProjectionRunner
from domain.errors import InvalidPlanTransitionError
from domain.installment_plan import InstallmentPlan, InstallmentStatus, PlanStatus, RetryPolicy
from domain.money import Money
from domain.payment import Payment
from domain.user import UserRole
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    DECLINED_CARD,
    GOOD_CARD,
    CountingGateway,
    assert_money_conserved,
    token_of,
)
from tests.unit.application.support import CALLER, App, count_events, make_app, wallet_state

pytestmark = pytest.mark.unit

DAY_S = 86_400.0
POLICY = RetryPolicy(attempts_max=3, backoff_s=3_600, backoff_cap_s=7_200)
ALICE = Principal("alice", frozenset({UserRole.CUSTOMER}))
BOB = Principal("bob", frozenset({UserRole.CUSTOMER}))


class LogDue:
    """Due installments read from the plans themselves (the read model's contract, with no
    read model: these are application tests)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.plan_ids: list[UUID] = []

    def due_installments(
        self, owner: str | None, now: datetime, limit: int
    ) -> list[tuple[UUID, int]]:
        found: list[tuple[UUID, int]] = []
        for plan_id in self.plan_ids:
            plan: Any = self.app.ledger.repository.get(plan_id)
            found.extend((plan_id, item.number) for item in plan.chargeable(now))
        return found[:limit]


class Scheduling:
    """The service, the scheduler and its runner on one in-memory log."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.service = InstallmentService(app.runner, app.settlement, POLICY)
        self.due = LogDue(app)
        self.scheduler = InstallmentScheduler(
            POPOTrackingRecorder(), self.service, self.due, app.clock
        )
        self.follower = ProjectionRunner(app.ledger, self.scheduler)

    def plan(self, total: int, count: int, payment_method: str = "") -> UUID:
        request = PlanRequest("alice", Money(total, "USD"), count, payment_method=payment_method)
        created = self.service.create_plan(ALICE, request).value
        self.service.activate_plan(ALICE, created.id)
        self.due.plan_ids.append(created.id)
        return created.id

    def tick(self) -> int:
        """One scan for due installments, then the outcomes followed from the log."""
        started = self.scheduler.charge_due()
        self.follower.catch_up()
        return started

    def state(self, plan_id: UUID) -> InstallmentPlan:
        return self.app.runner.read(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def world(clock: FakeClock, gateway: CountingGateway) -> Scheduling:
    app = make_app(clock, gateway)
    app.wallets.open_wallet(CALLER, "alice", "USD")
    return Scheduling(app)


def fund(world: Scheduling, amount: int) -> None:
    world.app.wallets.credit_wallet(CALLER, "alice", amount, "USD")


def test_charges_each_installment_once_from_the_wallet_and_completes_the_plan(
    world: Scheduling, clock: FakeClock, gateway: CountingGateway
) -> None:
    fund(world, 10_000)
    plan_id = world.plan(10_000, 3)

    assert world.tick() == 1
    assert world.tick() == 0  # the same instant again: nothing more is due
    assert [i.status for i in world.state(plan_id).installments] == [
        InstallmentStatus.PAID,
        InstallmentStatus.SCHEDULED,
        InstallmentStatus.SCHEDULED,
    ]
    clock.advance(30 * DAY_S)
    world.tick()
    clock.advance(30 * DAY_S)
    world.tick()
    world.tick()

    plan = world.state(plan_id)
    assert plan.status == PlanStatus.COMPLETED
    assert [i.amount_minor for i in plan.installments] == [3_333, 3_333, 3_334]
    assert count_events(world.app, Payment.Created) == 3
    assert count_events(world.app, InstallmentPlan.Completed) == 1
    assert wallet_state(world.app, "alice", "USD")[0] == 0
    assert gateway.charge_calls == []
    assert_money_conserved(world.app)  # type: ignore[arg-type]


def test_the_card_pays_what_the_wallet_cannot(world: Scheduling, gateway: CountingGateway) -> None:
    fund(world, 1_000)
    plan_id = world.plan(3_000, 1, payment_method=token_of(GOOD_CARD))

    world.tick()

    plan = world.state(plan_id)
    assert plan.status == PlanStatus.COMPLETED
    assert [call.amount_minor for call in gateway.charge_calls] == [2_000]
    assert wallet_state(world.app, "alice", "USD")[:2] == (0, 0)
    assert_money_conserved(world.app)  # type: ignore[arg-type]


def test_a_declined_installment_is_retried_with_backoff_then_the_plan_defaults(
    world: Scheduling, clock: FakeClock, gateway: CountingGateway
) -> None:
    plan_id = world.plan(3_000, 2, payment_method=token_of(DECLINED_CARD))

    world.tick()
    first = world.state(plan_id).installment(1)
    assert (first.status, first.attempts) == (InstallmentStatus.FAILED, 1)
    assert first.next_attempt_at == clock.now() + timedelta(seconds=3_600)
    clock.advance(3_599)
    assert world.tick() == 0  # not yet
    clock.advance(1)
    world.tick()
    assert world.state(plan_id).installment(1).attempts == 2
    clock.advance(7_200)  # the backoff doubled (capped at 7,200 s)
    world.tick()
    clock.advance(10 * DAY_S)
    world.tick()

    plan = world.state(plan_id)
    assert plan.status == PlanStatus.DEFAULTED
    assert [(i.status, i.attempts) for i in plan.installments] == [
        (InstallmentStatus.FAILED, 3),
        (InstallmentStatus.CANCELLED, 0),
    ]
    assert len(gateway.charge_calls) == 3
    assert count_events(world.app, InstallmentPlan.InstallmentFailed) == 3
    assert count_events(world.app, InstallmentPlan.Defaulted) == 1


def test_an_installment_the_wallet_cannot_cover_fails_then_is_paid_once_funded(
    world: Scheduling, clock: FakeClock
) -> None:
    plan_id = world.plan(2_000, 1)

    world.tick()
    failed = world.state(plan_id).installment(1)
    assert (failed.status, failed.failure_reason) == (
        InstallmentStatus.FAILED,
        "insufficient_funds",
    )
    assert count_events(world.app, Payment.Created) == 0
    fund(world, 2_000)
    clock.advance(3_600)
    world.tick()

    assert world.state(plan_id).status == PlanStatus.COMPLETED
    assert wallet_state(world.app, "alice", "USD")[0] == 0


def test_two_schedulers_racing_on_one_installment_charge_it_once(
    clock: FakeClock, gateway: CountingGateway
) -> None:
    app = make_app(clock, gateway)
    app.wallets.open_wallet(CALLER, "alice", "USD")
    world = Scheduling(app)
    plan_id = world.plan(5_000, 1, payment_method=token_of(GOOD_CARD))
    # A second scheduler with its own runner (its own in-process locks), as in another process.
    other = InstallmentService(type(app.runner)(app.ledger, clock), app.settlement, POLICY)
    barrier = threading.Barrier(2)
    results: list[UUID | None] = []

    def charge(service: InstallmentService) -> None:
        barrier.wait()
        results.append(service.charge_installment(plan_id, 1))

    threads = [threading.Thread(target=charge, args=(s,)) for s in (world.service, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.follower.catch_up()

    assert count_events(app, Payment.Created) == 1
    assert len(gateway.charge_calls) == 1
    assert sorted(map(str, results)).count("None") == 1
    assert world.state(plan_id).status == PlanStatus.COMPLETED


def test_another_customers_plan_is_not_found_and_left_unchanged(world: Scheduling) -> None:
    service = world.service
    created = service.create_plan(ALICE, PlanRequest("alice", Money(900, "USD"), 3)).value
    version = world.state(created.id).version

    for act in (
        lambda: service.get_plan(BOB, created.id),
        lambda: service.activate_plan(BOB, created.id),
        lambda: service.cancel_plan(BOB, created.id),
    ):
        with pytest.raises(InstallmentPlanNotFoundError):
            act()
    with pytest.raises(ForbiddenError):
        service.create_plan(BOB, PlanRequest("alice", Money(900, "USD"), 3))

    assert world.state(created.id).version == version


def test_activating_twice_is_refused_and_a_cancelled_plan_is_never_charged(
    world: Scheduling, clock: FakeClock
) -> None:
    fund(world, 1_000)
    plan_id = world.plan(1_000, 2)
    with pytest.raises(InvalidPlanTransitionError):
        world.service.activate_plan(ALICE, plan_id)
    world.tick()
    cancelled = world.service.cancel_plan(ALICE, plan_id).value

    clock.advance(60 * DAY_S)
    world.tick()

    assert cancelled.status == PlanStatus.CANCELLED
    assert [i.status for i in world.state(plan_id).installments] == [
        InstallmentStatus.PAID,
        InstallmentStatus.CANCELLED,
    ]
    assert count_events(world.app, Payment.Created) == 1


def test_the_same_idempotency_key_gives_back_the_same_plan(world: Scheduling) -> None:
    request = PlanRequest("alice", Money(1_200, "USD"), 12)

    first = world.service.create_plan(ALICE, request, "plan-1")
    again = world.service.create_plan(ALICE, request, "plan-1")

    assert again.replayed
    assert again.value.id == first.value.id
    assert count_events(world.app, InstallmentPlan.Created) == 1


def test_a_busy_log_does_not_keep_due_installments_waiting(world: Scheduling) -> None:
    fund(world, 1_000)
    plan_id = world.plan(1_000, 1)
    world.scheduler.scan_interval_s = 0

    # Events to follow: the runner is not idle, yet the batch it applies looks for due work.
    assert world.follower.run_once() > 0

    assert world.state(plan_id).installment(1).status == InstallmentStatus.PAID
