"""What installment-plan use cases return (also the HTTP bodies), and how a plan is shown."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

import msgspec

from domain.installment_plan import (
    Installment,
    InstallmentPlan,
    InstallmentStatus,
    PlanStatus,
)


class InstallmentOut(msgspec.Struct, frozen=True):
    """One installment of a plan; `status` is DUE once a SCHEDULED one's date has come."""

    id: UUID
    order_id: UUID
    number: int
    due_date: datetime
    amount: int
    currency: str
    status: InstallmentStatus
    attempts: int
    next_attempt_at: datetime | None
    payment_id: UUID | None
    failure_reason: str | None
    paid_at: datetime | None


class InstallmentPlanOut(msgspec.Struct, frozen=True):
    """An installment plan (seed 003's installment order) and its installments."""

    id: UUID
    customer_id: str
    recipient: str
    amount: int
    currency: str
    count: int
    status: PlanStatus
    paid_amount: int
    remaining_amount: int
    description: str
    reason: str | None
    created_at: datetime
    updated_at: datetime
    installments: list[InstallmentOut]


class InstallmentPlanPage(msgspec.Struct, frozen=True):
    items: list[InstallmentPlanOut]
    count: int
    next_cursor: str | None


class InstallmentPage(msgspec.Struct, frozen=True):
    items: list[InstallmentOut]
    count: int


def installment_id(plan_id: UUID, number: int) -> UUID:
    """An installment's own id: named by its plan and its number."""
    return uuid5(plan_id, f"installment:{number}")


def installment(plan: InstallmentPlan, item: Installment, now: datetime | None) -> InstallmentOut:
    """An installment as shown; with `now`, a SCHEDULED one whose date came shows DUE."""
    return InstallmentOut(
        id=installment_id(plan.id, item.number),
        order_id=plan.id,
        number=item.number,
        due_date=item.due_at,
        amount=item.amount_minor,
        currency=plan.currency,
        status=item.shown_status(now) if now is not None else item.status,
        attempts=item.attempts,
        next_attempt_at=item.next_attempt_at,
        payment_id=item.payment_id,
        failure_reason=item.failure_reason or None,
        paid_at=item.paid_at,
    )


def plan(found: InstallmentPlan, now: datetime | None) -> InstallmentPlanOut:
    paid = found.paid_minor
    return InstallmentPlanOut(
        id=found.id,
        customer_id=found.customer_id,
        recipient=found.recipient,
        amount=found.total_minor,
        currency=found.currency,
        count=len(found.installments),
        status=found.status,
        paid_amount=paid,
        remaining_amount=found.total_minor - paid,
        description=found.description,
        reason=found.reason or None,
        created_at=found.created_at,
        updated_at=found.updated_at,
        installments=[installment(found, item, now) for item in found.installments],
    )


def shown_at(item: InstallmentOut, now: datetime) -> InstallmentOut:
    """A stored installment as shown at `now` (SCHEDULED becomes DUE on its date)."""
    if item.status == InstallmentStatus.SCHEDULED and item.due_date <= now:
        return msgspec.structs.replace(item, status=InstallmentStatus.DUE)
    return item


def plan_shown_at(found: InstallmentPlanOut, now: datetime) -> InstallmentPlanOut:
    return msgspec.structs.replace(
        found, installments=[shown_at(item, now) for item in found.installments]
    )
