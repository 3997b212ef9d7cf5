"""The registration processor: follows the log and settles registrations by their payments.

- A registration's payment succeeded: its seat is confirmed (taken again if the hold lapsed
  and a seat is left). If no seat is left, or the registration was cancelled meanwhile, the
  payment is refunded in full: nobody pays for a seat they do not have.
- Its payment failed: the seat is given back and the registration RELEASED (the parent may
  pay again while seats are left).
- A cancelled registration owed a refund: the refund is made (a fixed idempotency key, so a
  processor that sees the event again never refunds twice).

Every step is idempotent; the position is tracked, so after a restart it carries on.
"""

from __future__ import annotations

import logging
from functools import partial, singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from application.errors import (
    GatewayRefundFailedError,
    PaymentNotFoundError,
    RegistrationNotFoundError,
    TripNotFoundError,
)
from application.principal import SYSTEM
from application.refunds import RefundService
from application.registrations import registration_of
from application.runner import CommandRunner, UnitOfWork
from domain.errors import DomainError, TripFullError
from domain.payment import Payment
from domain.payment_terms import PaymentStatus
from domain.registration import Registration, RegistrationStatus
from domain.trip import Trip

log = logging.getLogger(__name__)

PENDING = RegistrationStatus.PENDING


class RegistrationProcessor(Projection[Any]):
    """Confirms, releases and refunds registrations as their payments end."""

    name = "registration_processor"

    def __init__(
        self, view: TrackingRecorder, runner: CommandRunner, refunds: RefundService
    ) -> None:
        super().__init__(view)
        self.runner = runner
        self.refunds = refunds

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Succeeded, tracking: Tracking) -> None:
        self._payment_ended(event.originator_id)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Failed, tracking: Tracking) -> None:
        self._payment_ended(event.originator_id)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Registration.Cancelled, tracking: Tracking) -> None:
        if event.refund_minor:
            self._refund(event.originator_id, event.refund_minor, "registration cancelled")
        self.view.insert_tracking(tracking)

    def _payment_ended(self, payment_id: UUID) -> None:
        payment = self.runner.read(Payment, payment_id, PaymentNotFoundError)
        registration_id = registration_of(payment)
        if registration_id is None:
            return
        command = partial(self._settle, registration_id, payment)
        keep = self.runner.run(command, lambda found: found, None, [registration_id]).value
        if payment.status == PaymentStatus.SUCCESS and not keep:
            self._refund(
                registration_id, payment.amount_minor, "no seat for this payment", payment_id
            )

    def _settle(self, registration_id: UUID, payment: Payment, uow: UnitOfWork) -> bool:
        """Apply the payment's outcome; False when a successful payment bought no seat."""
        registration = uow.get(Registration, registration_id, RegistrationNotFoundError)
        trip = uow.get(Trip, registration.trip_id, TripNotFoundError)
        succeeded = payment.status == PaymentStatus.SUCCESS
        if registration.status == RegistrationStatus.CONFIRMED:
            return registration.payment_id == payment.id or not succeeded
        if registration.status == RegistrationStatus.CANCELLED:
            return not succeeded
        if not succeeded:
            if registration.payment_id == payment.id and registration.status == PENDING:
                registration.release("payment_failed", uow.now)
                if trip.holds_seat(registration.id, uow.now):
                    trip.release_seat(registration.id, "payment_failed")
                uow.save(registration, trip)
            return True
        try:
            trip.confirm_seat(registration.id, uow.now)
        except TripFullError:
            if registration.status == RegistrationStatus.PENDING:
                registration.release("trip_full", uow.now)
                uow.save(registration)
            return False
        registration.confirm(payment.id, uow.now)
        uow.save(registration, trip)
        return True

    def _refund(
        self, registration_id: UUID, amount_minor: int, reason: str, payment_id: UUID | None = None
    ) -> None:
        """Refund a registration's payment (once: the key is fixed)."""
        if payment_id is None:
            registration = self.runner.read(
                Registration, registration_id, RegistrationNotFoundError
            )
            payment_id = registration.payment_id
        if payment_id is None:
            return
        key = f"registration-refund:{registration_id}:{payment_id}"
        try:
            self.refunds.refund_payment(SYSTEM, payment_id, amount_minor, reason, key)
        except (DomainError, GatewayRefundFailedError):
            # Logged for a person: refusals by the gateway are not retried forever.
            log.exception(
                "refund of registration %s (payment %s) failed", registration_id, payment_id
            )
