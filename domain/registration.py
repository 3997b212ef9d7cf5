"""Registration (seed 000): a parent books a seat on a trip for a student, and pays for it.

PENDING (a seat held while the payment is processed) -> CONFIRMED (paid) | RELEASED (the
payment failed, or the hold lapsed before it was paid); PENDING or CONFIRMED -> CANCELLED by
the parent (the seat is given back; a refund follows the cancellation policy).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidRegistrationTransitionError, InvalidTripError
from domain.text import REASON_LENGTH_MAX, check_text

STUDENT_NAME_LENGTH_MAX = 200


class RegistrationStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    CANCELLED = "CANCELLED"


def check_student_name(name: str) -> str:
    if not name.strip() or len(name) > STUDENT_NAME_LENGTH_MAX:
        raise InvalidTripError(f"A student's name is 1 to {STUDENT_NAME_LENGTH_MAX} characters.")
    return check_text(name, "student_name", STUDENT_NAME_LENGTH_MAX)


class Registration(Aggregate):
    """One student's seat on one trip, and the payment for it."""

    class Booked(Aggregate.Created):
        trip_id: UUID
        parent_id: str
        student_name: str
        price_minor: int
        currency: str
        at: datetime

    class PaymentAttached(Aggregate.Event):
        payment_id: UUID
        at: datetime

    class Confirmed(Aggregate.Event):
        payment_id: UUID
        at: datetime

    class Released(Aggregate.Event):
        reason: str
        at: datetime

    class Cancelled(Aggregate.Event):
        reason: str
        refund_minor: int
        at: datetime

    class StudentRenamed(Aggregate.Event):
        student_name: str
        at: datetime

    @classmethod
    def book(
        cls,
        registration_id: UUID,
        trip_id: UUID,
        parent_id: str,
        student_name: str,
        price_minor: int,
        currency: str,
        at: datetime,
    ) -> Registration:
        return cls._create(
            cls.Booked,
            id=registration_id,
            trip_id=trip_id,
            parent_id=parent_id,
            student_name=check_student_name(student_name),
            price_minor=price_minor,
            currency=currency,
            at=at,
        )

    @event(Booked)
    def __init__(
        self,
        trip_id: UUID,
        parent_id: str,
        student_name: str,
        price_minor: int,
        currency: str,
        at: datetime,
    ) -> None:
        self.trip_id = trip_id
        self.parent_id = parent_id
        self.student_name = student_name
        self.price_minor = price_minor
        self.currency = currency
        self.status = RegistrationStatus.PENDING
        self.payment_id: UUID | None = None
        self.reason = ""
        self.refund_minor = 0
        self.created_at = at
        self.updated_at = at

    # Commands.

    def attach_payment(self, payment_id: UUID, at: datetime) -> None:
        """The payment that pays for the seat (a new one after a failed one)."""
        self._require(RegistrationStatus.PENDING, RegistrationStatus.RELEASED)
        if payment_id != self.payment_id:
            self._attach(payment_id, at)

    def confirm(self, payment_id: UUID, at: datetime) -> None:
        self._require(RegistrationStatus.PENDING, RegistrationStatus.RELEASED)
        self._confirm(payment_id, at)

    def release(self, reason: str, at: datetime) -> None:
        """The seat is gone without a payment (it failed, or the hold lapsed)."""
        self._require(RegistrationStatus.PENDING)
        self._release(reason, at)

    def cancel(self, reason: str, refund_minor: int, at: datetime) -> None:
        """The parent cancels; `refund_minor` of the price is owed back (0 if unpaid)."""
        self._require(RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED)
        check_text(reason, "reason", REASON_LENGTH_MAX)
        self._cancel(reason, refund_minor, at)

    def rename_student(self, student_name: str, at: datetime) -> None:
        self._require(RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED)
        if student_name != self.student_name:
            self._rename(check_student_name(student_name), at)

    def _require(self, *statuses: RegistrationStatus) -> None:
        if self.status not in statuses:
            raise InvalidRegistrationTransitionError(
                f"The registration is {self.status}; this needs {' or '.join(statuses)}."
            )

    # State changes: they only assign.

    @event(PaymentAttached)
    def _attach(self, payment_id: UUID, at: datetime) -> None:
        self.payment_id = payment_id
        self.status = RegistrationStatus.PENDING
        self.updated_at = at

    @event(Confirmed)
    def _confirm(self, payment_id: UUID, at: datetime) -> None:
        self.payment_id = payment_id
        self.status = RegistrationStatus.CONFIRMED
        self.updated_at = at

    @event(Released)
    def _release(self, reason: str, at: datetime) -> None:
        self.status = RegistrationStatus.RELEASED
        self.reason = reason
        self.updated_at = at

    @event(Cancelled)
    def _cancel(self, reason: str, refund_minor: int, at: datetime) -> None:
        self.status = RegistrationStatus.CANCELLED
        self.reason = reason
        self.refund_minor = refund_minor
        self.updated_at = at

    @event(StudentRenamed)
    def _rename(self, student_name: str, at: datetime) -> None:
        self.student_name = student_name
        self.updated_at = at
