"""Installment plans (seed 003's installment orders): create, read, activate, cancel, and
charge each installment wallet-first when it falls due.

A plan belongs to its customer: the customer or an admin acts on it, an auditor reads it,
anyone else finds nothing (404). Charging is the scheduler's (`InstallmentScheduler`): one
command starts the charge of an installment and creates its payment (a `wallet_first`
charge, `application.charges.add_charge`) in ONE save. The payment's id is derived from the plan,
the installment and the attempt (uuid5), so two schedulers racing on one installment write
the same payment and the same plan version: one wins, the other's command finds the
installment already being charged and does nothing. One charge per attempt, whatever the
number of replicas. The payment's end (succeeded, failed) comes back through the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID, uuid5

from application import results_installments as shown
from application.charges import ChargeRequest, Tokenized, add_charge
from application.errors import (
    ForbiddenError,
    InstallmentPlanNotFoundError,
    PaymentNotFoundError,
)
from application.idempotency import Request, keyed_request, request_digest
from application.principal import Principal
from application.results import Written
from application.results_installments import InstallmentPage, InstallmentPlanOut
from application.runner import CommandRunner, UnitOfWork
from application.settlement import PaymentSettlement
from domain.errors import DomainError, InvalidScheduleError
from domain.ids import wallet_id
from domain.installment_plan import (
    InstallmentPlan,
    InstallmentStatus,
    PlanStatus,
    RetryPolicy,
    ScheduleEntry,
    equal_schedule,
)
from domain.money import Money, check_customer_id
from domain.payment import Payment
from domain.payment_terms import PaymentStatus

REFERENCE_PREFIX = "installment:"
DEFAULT_INTERVAL = timedelta(days=30)
# A change of a plan at an instant (activate, cancel).
_Change = Callable[[InstallmentPlan, datetime], None]
PAID_STATUSES = frozenset(
    {PaymentStatus.SUCCESS, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


@dataclass(frozen=True)
class PlanRequest:
    """A plan as a client asked for it: an explicit `schedule`, or `count` installments
    from `first_due_at` (default: now) every `interval`."""

    customer_id: str
    total: Money
    count: int | None = None
    schedule: tuple[ScheduleEntry, ...] = ()
    first_due_at: datetime | None = None
    interval: timedelta = DEFAULT_INTERVAL
    recipient: str = "merchant"
    payment_method: str = ""
    description: str = ""

    def schedule_at(self, now: datetime) -> tuple[ScheduleEntry, ...]:
        if self.schedule:
            if self.count is not None and self.count != len(self.schedule):
                raise InvalidScheduleError("The count differs from the schedule's length.")
            return self.schedule
        first = self.first_due_at or now
        count = self.count if self.count is not None else 1
        return equal_schedule(self.total.amount_minor, count, first, self.interval)


def installment_payment_id(plan_id: UUID, number: int, attempt: int) -> UUID:
    """The payment of one attempt at one installment: the same for every scheduler."""
    return uuid5(plan_id, f"installment:{number}:attempt:{attempt}")


def installment_of(payment: Payment) -> tuple[UUID, int] | None:
    """The (plan, installment number) a payment pays, if it pays one."""
    if not payment.reference.startswith(REFERENCE_PREFIX):
        return None
    plan_id, _, number = payment.reference.removeprefix(REFERENCE_PREFIX).partition(":")
    return UUID(plan_id), int(number)


class _StaleCopyError(DomainError):
    """Nothing to do on a cached copy: look again on the log before saying so."""

    code = "stale_copy"


def look_again(uow: UnitOfWork) -> None:
    """Before a command decides to do nothing, make sure it did not decide on a stale copy.

    Aggregates come from this process's cache, which another process's saves do not update.
    A stale copy that leads to a save is caught by the event store (a conflict, retried on
    fresh state); one that leads to doing nothing is not, and an outcome could be lost (the
    other process's follower may never see the event). So the runner is asked to run the
    command once more on state read from the log (it does so for a `DomainError`)."""
    if not uow.fresh:
        raise _StaleCopyError()


class InstallmentService:
    """Create, read, activate, cancel and charge installment plans."""

    def __init__(
        self, runner: CommandRunner, settlement: PaymentSettlement, policy: RetryPolicy
    ) -> None:
        self.runner = runner
        self.settlement = settlement  # settles the card's part of a charge
        self.policy = policy

    # What clients do.

    def create_plan(
        self, caller: Principal, request: PlanRequest, idempotency_key: str | None = None
    ) -> Written[InstallmentPlanOut]:
        """A PENDING plan for the customer (a customer makes plans for themself only)."""
        check_customer_id(request.customer_id)
        if not caller.may_act_for(request.customer_id):
            raise ForbiddenError("A customer makes installment plans for themself only.")
        keyed = keyed_request(
            caller,
            idempotency_key,
            "create_installment_plan",
            customer=request.customer_id,
            total=request.total.amount_minor,
            currency=request.total.currency,
            count=request.count,
            schedule=[(e.due_at.isoformat(), e.amount_minor) for e in request.schedule],
            first_due_at=request.first_due_at.isoformat() if request.first_due_at else None,
            interval_s=request.interval.total_seconds(),
            recipient=request.recipient,
            payment_method=request.payment_method,
            description=request.description,
        )
        return self.runner.run(partial(self._create, request), self._present, keyed)

    def _create(self, request: PlanRequest, uow: UnitOfWork) -> InstallmentPlan:
        plan = InstallmentPlan.create(
            uow.command_id,
            request.customer_id,
            request.recipient,
            request.total,
            request.schedule_at(uow.now),
            request.payment_method,
            request.description,
            uow.now,
        )
        uow.save(plan)
        return plan

    def get_plan(self, caller: Principal, plan_id: UUID) -> InstallmentPlanOut:
        """A plan from the log (strongly consistent)."""
        plan = self.runner.read(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)
        caller.require_reads(plan.customer_id, InstallmentPlanNotFoundError)
        return self._present(plan)

    def list_installments(self, caller: Principal, plan_id: UUID) -> InstallmentPage:
        """A plan's installments, in order (from the log)."""
        items = self.get_plan(caller, plan_id).installments
        return InstallmentPage(items, len(items))

    def activate_plan(
        self, caller: Principal, plan_id: UUID, idempotency_key: str | None = None
    ) -> Written[InstallmentPlanOut]:
        """PENDING -> ACTIVE: its installments are charged from their dates on."""
        keyed = keyed_request(
            caller, idempotency_key, "activate_installment_plan", plan=str(plan_id)
        )
        return self._act(caller, plan_id, lambda plan, now: plan.activate(now), keyed)

    def cancel_plan(
        self,
        caller: Principal,
        plan_id: UUID,
        reason: str = "cancelled",
        idempotency_key: str | None = None,
    ) -> Written[InstallmentPlanOut]:
        """No more charges; what was paid stays paid."""
        keyed = keyed_request(
            caller, idempotency_key, "cancel_installment_plan", plan=str(plan_id), reason=reason
        )
        return self._act(caller, plan_id, lambda plan, now: plan.cancel(reason, now), keyed)

    def _act(
        self, caller: Principal, plan_id: UUID, change: _Change, keyed: Request
    ) -> Written[InstallmentPlanOut]:
        def command(uow: UnitOfWork) -> InstallmentPlan:
            plan = uow.get(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)
            caller.require_acts_for(plan.customer_id, InstallmentPlanNotFoundError)
            change(plan, uow.now)
            uow.save(plan)
            return plan

        return self.runner.run(command, self._present, keyed, [plan_id])

    def _present(self, plan: InstallmentPlan) -> InstallmentPlanOut:
        return shown.plan(plan, self.runner.clock.now())

    # What the scheduler does.

    def charge_installment(self, plan_id: UUID, number: int) -> UUID | None:
        """Start the charge of a due installment; the payment's id, or None when there was
        nothing to charge (not due, or already charged: by another scheduler, say)."""
        plan = self.runner.read(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)
        locks = [plan_id, wallet_id(plan.customer_id, plan.currency)]
        command = partial(self._charge, plan_id, number)
        started = self.runner.run(command, lambda payment_id: payment_id, None, locks).value
        if started is not None:  # the card's part, if any (the payment processor too)
            self.settlement.advance(started)
        return started

    def _charge(self, plan_id: UUID, number: int, uow: UnitOfWork) -> UUID | None:
        plan = uow.get(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)
        if plan.status != PlanStatus.ACTIVE or not plan.installment(number).is_chargeable(uow.now):
            look_again(uow)
            return None
        item = plan.installment(number)
        attempt = item.attempts + 1
        payment_id = installment_payment_id(plan_id, number, attempt)
        plan.start_charge(number, payment_id, uow.now)
        count = len(plan.installments)
        charge = ChargeRequest(
            customer_id=plan.customer_id,
            recipient=plan.recipient,
            amount=Money(item.amount_minor, plan.currency),
            payment_method=plan.payment_method or None,
            description=f"installment {number}/{count} of plan {plan_id}",
        )
        digest = request_digest("charge_installment", plan=str(plan_id), number=number)
        reference = f"{REFERENCE_PREFIX}{plan_id}:{number}"
        try:
            payment = add_charge(
                uow,
                payment_id,
                charge,
                Tokenized(plan.payment_method),
                digest,
                plan.customer_id,
                reference,
            )
        except DomainError as refused:
            if not uow.fresh:
                raise  # the runner runs it again on state read from the log: then it counts
            plan.record_failed(number, None, refused.code, uow.now, self.policy)
            uow.save(plan)
            return None
        if payment.status in PAID_STATUSES:  # the wallet paid it all, in this very save
            plan.record_paid(number, payment_id, uow.now)
        uow.save(plan)
        return payment_id if payment.status not in PAID_STATUSES else None

    def record_outcome(self, payment_id: UUID) -> InstallmentStatus | None:
        """Apply a settled payment's outcome to its installment (once: an outcome for an
        attempt that is no longer current changes nothing). The installment's status after,
        or None when the payment pays no installment."""
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        found = installment_of(payment)
        if found is None:
            return None
        plan_id, number = found
        command = partial(self._record, plan_id, number, payment)
        return self.runner.run(command, lambda status: status, None, [plan_id]).value

    def _record(
        self, plan_id: UUID, number: int, payment: Payment, uow: UnitOfWork
    ) -> InstallmentStatus:
        plan = uow.get(InstallmentPlan, plan_id, InstallmentPlanNotFoundError)
        item = plan.installment(number)
        if item.status != InstallmentStatus.PROCESSING or item.payment_id != payment.id:
            look_again(uow)
            return item.status
        if payment.status in PAID_STATUSES:
            plan.record_paid(number, payment.id, uow.now)
        elif payment.status == PaymentStatus.FAILED:
            reason = payment.failure_reason or "payment_failed"
            plan.record_failed(number, payment.id, reason, uow.now, self.policy)
        else:
            return item.status
        uow.save(plan)
        return item.status
