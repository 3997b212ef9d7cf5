"""Installment plan invariants under random sequences of charges, outcomes, moves of the clock
and cancellations (hypothesis stateful testing): the installments add up to the total; paid
never exceeds it; no installment has more attempts than the policy allows; the plan is
COMPLETED exactly when every installment is paid, DEFAULTED only after an installment's last
attempt failed; nothing is chargeable on a plan that is not active; and replaying the events
rebuilds the same plan. A refused command changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.errors import DomainError
from domain.installment_plan import (
    InstallmentPlan,
    InstallmentStatus,
    PlanStatus,
    RetryPolicy,
    equal_schedule,
)
from domain.money import Money

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(attempts_max=3, backoff_s=3_600, backoff_cap_s=10_000)


class PlanMachine(RuleBasedStateMachine):
    plan: InstallmentPlan
    now: datetime

    @initialize(
        total=st.integers(min_value=24, max_value=10**12),
        count=st.integers(min_value=1, max_value=24),
        activate=st.booleans(),
    )
    def create(self, total: int, count: int, activate: bool) -> None:
        self.now = START
        schedule = equal_schedule(total, count, START, timedelta(days=30))
        self.plan = InstallmentPlan.create(
            uuid4(), "alice", "shop", Money(total, "USD"), schedule, "", "", START
        )
        if activate:
            self.plan.activate(START)

    def _try(self, command: object) -> None:
        """Run a command; a refusal must leave the plan as it was."""
        before = (self.plan.version, [vars(i).copy() for i in self.plan.installments])
        try:
            command()  # type: ignore[operator]
        except DomainError:
            after = (self.plan.version, [vars(i).copy() for i in self.plan.installments])
            assert after == before

    @rule(days=st.integers(min_value=0, max_value=60), seconds=st.integers(0, 20_000))
    def move_the_clock(self, days: int, seconds: int) -> None:
        self.now += timedelta(days=days, seconds=seconds)

    @rule(number=st.integers(min_value=1, max_value=24))
    def start_a_charge(self, number: int) -> None:
        self._try(lambda: self.plan.start_charge(number, uuid4(), self.now))

    @rule(number=st.integers(min_value=1, max_value=24), paid=st.booleans(), known=st.booleans())
    def end_a_charge(self, number: int, paid: bool, known: bool) -> None:
        if number > len(self.plan.installments):
            return
        current = self.plan.installments[number - 1].payment_id
        payment: UUID | None = current if known else uuid4()
        if paid and payment is not None:
            self._try(lambda: self.plan.record_paid(number, payment, self.now))
        else:
            self._try(lambda: self.plan.record_failed(number, payment, "X", self.now, POLICY))

    @rule()
    def cancel(self) -> None:
        self._try(lambda: self.plan.cancel("changed my mind", self.now))

    @rule()
    def activate(self) -> None:
        self._try(lambda: self.plan.activate(self.now))

    @invariant()
    def amounts_add_up_and_paid_never_exceeds_the_total(self) -> None:
        plan = self.plan
        assert sum(i.amount_minor for i in plan.installments) == plan.total_minor
        assert 0 <= plan.paid_minor <= plan.total_minor

    @invariant()
    def attempts_stay_within_the_policy(self) -> None:
        assert all(0 <= i.attempts <= POLICY.attempts_max for i in self.plan.installments)

    @invariant()
    def the_plan_status_agrees_with_its_installments(self) -> None:
        plan = self.plan
        statuses = [i.status for i in plan.installments]
        all_paid = all(s == InstallmentStatus.PAID for s in statuses)
        assert (plan.status == PlanStatus.COMPLETED) == (
            all_paid and plan.status != PlanStatus.CANCELLED
        )
        if plan.status == PlanStatus.DEFAULTED:
            assert any(
                i.status == InstallmentStatus.FAILED and i.attempts == POLICY.attempts_max
                for i in plan.installments
            )
        if plan.status != PlanStatus.ACTIVE:
            assert plan.chargeable(self.now + timedelta(days=10_000)) == []

    @invariant()
    def replay_equals_live_state(self) -> None:
        pending = self.plan.collect_events()
        replayed = getattr(self, "replayed", None)
        for event in pending:
            replayed = event.mutate(replayed)
        self.replayed = replayed
        assert replayed is not None
        assert replayed.installments == self.plan.installments
        assert (replayed.status, replayed.version) == (self.plan.status, self.plan.version)


PlanMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_installment_plan_invariants = PlanMachine.TestCase
