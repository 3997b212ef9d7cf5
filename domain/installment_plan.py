"""InstallmentPlan (seed 003's installment orders): a total paid in 1 to 24 installments.

Plan: PENDING -> ACTIVE (activate) -> COMPLETED (every installment paid) | DEFAULTED (an
installment failed its last attempt); PENDING or ACTIVE -> CANCELLED.

Installment: SCHEDULED -> PROCESSING (a charge started) -> PAID | FAILED; FAILED with a
next attempt -> PROCESSING again; the last failed attempt defaults the plan. Unpaid
installments of a cancelled or defaulted plan are CANCELLED. DUE is how a SCHEDULED
installment whose date has come is shown (`shown_status`): time decides it, not an event.

The amounts are integer minor units: an explicit schedule must add up to the total; without
one the total is split equally and the remainder goes on the last installment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    InvalidInstallmentCountError,
    InvalidPlanTransitionError,
    InvalidScheduleError,
    ScheduleTotalMismatchError,
)
from domain.money import Money, check_customer_id
from domain.text import DESCRIPTION_LENGTH_MAX, PARTY_LENGTH_MAX, TOKEN_LENGTH_MAX, check_text

INSTALLMENTS_MIN = 1
INSTALLMENTS_MAX = 24
INTERVAL_DAYS_MAX = 366


class PlanStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DEFAULTED = "DEFAULTED"
    CANCELLED = "CANCELLED"


class InstallmentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    DUE = "DUE"  # shown only: a SCHEDULED installment whose date has come
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class ScheduleEntry:
    """One installment as planned: when it falls due and how much."""

    due_at: datetime
    amount_minor: int


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed installment is tried again: `attempts_max` attempts in all, the
    n-th retry `backoff_s * 2**(n-1)` after the failure (at most `backoff_cap_s`)."""

    attempts_max: int = 4
    backoff_s: float = 3600.0
    backoff_cap_s: float = 86400.0

    def __post_init__(self) -> None:
        assert self.attempts_max >= 1, self
        assert min(self.backoff_s, self.backoff_cap_s) >= 0, self

    def next_attempt_at(self, attempts: int, failed_at: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts (None: no more)."""
        if attempts >= self.attempts_max:
            return None
        delay_s = min(self.backoff_cap_s, self.backoff_s * 2 ** (attempts - 1))
        return failed_at + timedelta(seconds=delay_s)


def split_equally(total_minor: int, count: int) -> list[int]:
    """`count` equal amounts adding up to `total_minor`; the remainder on the last one."""
    if not INSTALLMENTS_MIN <= count <= INSTALLMENTS_MAX:
        raise InvalidInstallmentCountError()
    share = total_minor // count
    if share <= 0:
        raise InvalidInstallmentCountError(
            f"A total of {total_minor} minor units cannot be split into {count} installments."
        )
    return [share] * (count - 1) + [total_minor - share * (count - 1)]


def equal_schedule(
    total_minor: int, count: int, first_due_at: datetime, interval: timedelta
) -> tuple[ScheduleEntry, ...]:
    """An equal split, the first installment due at `first_due_at`, then every `interval`."""
    if interval <= timedelta(0) or interval > timedelta(days=INTERVAL_DAYS_MAX):
        raise InvalidScheduleError(f"The interval is 1 to {INTERVAL_DAYS_MAX} days.")
    amounts = split_equally(total_minor, count)
    return tuple(
        ScheduleEntry(first_due_at + interval * i, amount) for i, amount in enumerate(amounts)
    )


def check_schedule(schedule: tuple[ScheduleEntry, ...], total: Money) -> None:
    """A schedule of 1 to 24 entries in date order, positive amounts adding up to the total."""
    if not INSTALLMENTS_MIN <= len(schedule) <= INSTALLMENTS_MAX:
        raise InvalidInstallmentCountError()
    for entry in schedule:
        if entry.due_at.tzinfo is None or entry.due_at.utcoffset() is None:
            raise InvalidScheduleError("Every due date needs a time zone.")
        amount = entry.amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InvalidScheduleError("Every installment is a positive number of minor units.")
    if any(a.due_at > b.due_at for a, b in pairwise(schedule)):
        raise InvalidScheduleError("The installments must be listed in date order.")
    scheduled = sum(entry.amount_minor for entry in schedule)
    if scheduled != total.amount_minor:
        raise ScheduleTotalMismatchError(
            f"The installments add up to {scheduled}, the total is {total.amount_minor}."
        )


@dataclass
class Installment:
    """One installment's state within its plan (not an aggregate: the plan owns it)."""

    number: int  # 1-based
    due_at: datetime
    amount_minor: int
    status: InstallmentStatus = InstallmentStatus.SCHEDULED
    attempts: int = 0
    payment_id: UUID | None = None  # the charge of the current (or last) attempt
    next_attempt_at: datetime | None = None  # a FAILED one's retry, if any
    failure_reason: str = ""
    paid_at: datetime | None = None

    @property
    def ready_at(self) -> datetime | None:
        """From when it may be charged (None: not chargeable)."""
        if self.status == InstallmentStatus.SCHEDULED:
            return self.due_at
        if self.status == InstallmentStatus.FAILED:
            return self.next_attempt_at
        return None

    def is_chargeable(self, now: datetime) -> bool:
        ready_at = self.ready_at
        return ready_at is not None and ready_at <= now

    def shown_status(self, now: datetime) -> InstallmentStatus:
        if self.status == InstallmentStatus.SCHEDULED and self.due_at <= now:
            return InstallmentStatus.DUE
        return self.status


UNPAID = frozenset({InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED})


class InstallmentPlan(Aggregate):
    """A customer's total, paid in installments charged wallet-first on their dates."""

    class Created(Aggregate.Created):
        customer_id: str
        recipient: str
        total_minor: int
        currency: str
        schedule: tuple[ScheduleEntry, ...]
        payment_method: str
        description: str
        at: datetime

    class Activated(Aggregate.Event):
        at: datetime

    class Cancelled(Aggregate.Event):
        reason: str
        at: datetime

    class ChargeStarted(Aggregate.Event):
        number: int
        attempt: int
        payment_id: UUID
        at: datetime

    class InstallmentPaid(Aggregate.Event):
        number: int
        payment_id: UUID
        at: datetime

    class InstallmentFailed(Aggregate.Event):
        number: int
        attempt: int
        payment_id: UUID | None
        reason: str
        next_attempt_at: datetime | None
        at: datetime

    class Completed(Aggregate.Event):
        at: datetime

    class Defaulted(Aggregate.Event):
        number: int
        at: datetime

    @classmethod
    def create(
        cls,
        plan_id: UUID,
        customer_id: str,
        recipient: str,
        total: Money,
        schedule: tuple[ScheduleEntry, ...],
        payment_method: str,
        description: str,
        at: datetime,
    ) -> InstallmentPlan:
        check_customer_id(customer_id)
        check_schedule(schedule, total)
        return cls._create(
            cls.Created,
            id=plan_id,
            customer_id=customer_id,
            recipient=check_text(recipient, "recipient", PARTY_LENGTH_MAX),
            total_minor=total.amount_minor,
            currency=total.currency,
            schedule=schedule,
            payment_method=check_text(payment_method, "payment_method", TOKEN_LENGTH_MAX),
            description=check_text(description, "description", DESCRIPTION_LENGTH_MAX),
            at=at,
        )

    @event(Created)
    def __init__(
        self,
        customer_id: str,
        recipient: str,
        total_minor: int,
        currency: str,
        schedule: tuple[ScheduleEntry, ...],
        payment_method: str,
        description: str,
        at: datetime,
    ) -> None:
        self.customer_id = customer_id
        self.recipient = recipient
        self.total_minor = total_minor
        self.currency = currency
        self.payment_method = payment_method
        self.description = description
        self.installments = [
            Installment(number, entry.due_at, entry.amount_minor)
            for number, entry in enumerate(schedule, start=1)
        ]
        self.status = PlanStatus.PENDING
        self.reason = ""
        self.created_at = at
        self.updated_at = at

    # Reads.

    @property
    def paid_minor(self) -> int:
        return sum(i.amount_minor for i in self.installments if i.status == InstallmentStatus.PAID)

    def installment(self, number: int) -> Installment:
        if not 1 <= number <= len(self.installments):
            raise InvalidPlanTransitionError(f"The plan has no installment {number}.")
        return self.installments[number - 1]

    def chargeable(self, now: datetime) -> list[Installment]:
        """The installments to charge now (none unless the plan is ACTIVE)."""
        if self.status != PlanStatus.ACTIVE:
            return []
        return [i for i in self.installments if i.is_chargeable(now)]

    # Commands.

    def activate(self, at: datetime) -> None:
        self._require(PlanStatus.PENDING)
        self._activate(at)

    def cancel(self, reason: str, at: datetime) -> None:
        """Stop charging: unpaid installments are cancelled (one being charged ends as its
        charge ends; what was paid stays paid)."""
        self._require(PlanStatus.PENDING, PlanStatus.ACTIVE)
        self._cancel(check_text(reason, "reason", DESCRIPTION_LENGTH_MAX), at)

    def start_charge(self, number: int, payment_id: UUID, at: datetime) -> None:
        """A charge of installment `number` begins (its attempt is counted now)."""
        self._require(PlanStatus.ACTIVE)
        installment = self.installment(number)
        if not installment.is_chargeable(at):
            raise InvalidPlanTransitionError(
                f"Installment {number} is {installment.status}, not due for a charge."
            )
        self._start_charge(number, installment.attempts + 1, payment_id, at)

    def record_paid(self, number: int, payment_id: UUID, at: datetime) -> None:
        """The charge of the current attempt succeeded; the last one completes the plan."""
        self._require_processing(number, payment_id)
        self._paid(number, payment_id, at)
        if all(i.status == InstallmentStatus.PAID for i in self.installments):
            self._complete(at)

    def record_failed(
        self,
        number: int,
        payment_id: UUID | None,
        reason: str,
        at: datetime,
        policy: RetryPolicy,
    ) -> None:
        """The current attempt failed: tried again later by `policy`, or, after the last
        attempt, the plan defaults. A charge that ends after a cancellation is not retried."""
        installment = self.installment(number)
        if payment_id is not None:
            self._require_processing(number, payment_id)
        elif installment.status != InstallmentStatus.PROCESSING:
            raise InvalidPlanTransitionError(f"Installment {number} is not being charged.")
        retry_at = None
        if self.status == PlanStatus.ACTIVE:
            retry_at = policy.next_attempt_at(installment.attempts, at)
        self._failed(number, installment.attempts, payment_id, reason[:200], retry_at, at)
        if retry_at is None and self.status == PlanStatus.ACTIVE:
            self._default(number, at)

    def _require(self, *statuses: PlanStatus) -> None:
        if self.status not in statuses:
            raise InvalidPlanTransitionError(
                f"The plan is {self.status}; this needs {' or '.join(statuses)}."
            )

    def _require_processing(self, number: int, payment_id: UUID) -> None:
        installment = self.installment(number)
        if installment.status != InstallmentStatus.PROCESSING or (
            installment.payment_id != payment_id
        ):
            raise InvalidPlanTransitionError(
                f"Installment {number} is not being charged by payment {payment_id}."
            )

    # State changes: they only assign.

    @event(Activated)
    def _activate(self, at: datetime) -> None:
        self.status = PlanStatus.ACTIVE
        self.updated_at = at

    @event(Cancelled)
    def _cancel(self, reason: str, at: datetime) -> None:
        self.status = PlanStatus.CANCELLED
        self.reason = reason
        for installment in self.installments:
            if installment.status in UNPAID:
                installment.status = InstallmentStatus.CANCELLED
                installment.next_attempt_at = None
        self.updated_at = at

    @event(ChargeStarted)
    def _start_charge(self, number: int, attempt: int, payment_id: UUID, at: datetime) -> None:
        installment = self.installments[number - 1]
        installment.status = InstallmentStatus.PROCESSING
        installment.attempts = attempt
        installment.payment_id = payment_id
        installment.next_attempt_at = None
        self.updated_at = at

    @event(InstallmentPaid)
    def _paid(self, number: int, payment_id: UUID, at: datetime) -> None:
        installment = self.installments[number - 1]
        installment.status = InstallmentStatus.PAID
        installment.paid_at = at
        installment.failure_reason = ""
        self.updated_at = at

    @event(InstallmentFailed)
    def _failed(
        self,
        number: int,
        attempt: int,
        payment_id: UUID | None,
        reason: str,
        next_attempt_at: datetime | None,
        at: datetime,
    ) -> None:
        installment = self.installments[number - 1]
        installment.status = InstallmentStatus.FAILED
        installment.attempts = attempt
        installment.failure_reason = reason
        installment.next_attempt_at = next_attempt_at
        self.updated_at = at

    @event(Completed)
    def _complete(self, at: datetime) -> None:
        self.status = PlanStatus.COMPLETED
        self.updated_at = at

    @event(Defaulted)
    def _default(self, number: int, at: datetime) -> None:
        self.status = PlanStatus.DEFAULTED
        self.reason = f"installment {number} failed its last attempt"
        for installment in self.installments:
            if installment.status in UNPAID and installment.number != number:
                installment.status = InstallmentStatus.CANCELLED
                installment.next_attempt_at = None
        self.updated_at = at
