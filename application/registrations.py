"""Registrations (seed 000): book a seat on a trip for a student, and pay for it.

Booking saves the trip's held seat, the registration and (with card details) its payment in
ONE save, so confirmed plus held seats never exceed the capacity, whatever the concurrency.
The payment is then processed like any card payment; `RegistrationProcessor` follows the log
and confirms the seat when the payment succeeds, or gives it back when it fails. A seat held
for a registration without a paid payment lapses after `seat_hold`.

Cancellation policy: the parent may cancel until the trip starts; a paid registration gets
its price back in full when cancelled before the trip starts; the seat is given back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from uuid import UUID, uuid5

from application import presenters_people
from application.errors import RegistrationNotFoundError, TripNotFoundError
from application.idempotency import keyed_request
from application.payments import PaymentRequest, PaymentService, card_fingerprint
from application.ports.gateway import Card
from application.principal import Principal
from application.results import Written
from application.results_people import RegistrationOut
from application.runner import CommandRunner, UnitOfWork
from domain.errors import InvalidRegistrationTransitionError
from domain.payment import Payment
from domain.payment_terms import PaymentMethod
from domain.registration import Registration, RegistrationStatus
from domain.splits import BPS_WHOLE, Split
from domain.trip import Trip

SEAT_HOLD = timedelta(minutes=15)
REFERENCE_PREFIX = "registration:"


@dataclass(frozen=True)
class RegistrationPolicy:
    """How long an unpaid seat is held, and the platform's fee on a trip's price."""

    seat_hold: timedelta = SEAT_HOLD
    platform_fee_bps: int = 0

    def splits(self, school_payee: str) -> tuple[Split, ...]:
        if not self.platform_fee_bps:
            return ()
        school_bps = BPS_WHOLE - self.platform_fee_bps
        return (Split(school_payee, bps=school_bps), Split("platform", bps=self.platform_fee_bps))


def registration_of(payment: Payment) -> UUID | None:
    """The registration a payment pays for, if it pays for one."""
    if not payment.reference.startswith(REFERENCE_PREFIX):
        return None
    return UUID(payment.reference.removeprefix(REFERENCE_PREFIX))


def school_payee(trip: Trip) -> str:
    """Who is owed a trip's price: the school's payable account."""
    return f"school:{trip.school_id}"


class RegistrationService:
    """Book, pay, read, rename and cancel registrations."""

    def __init__(
        self, runner: CommandRunner, payments: PaymentService, policy: RegistrationPolicy
    ) -> None:
        self.runner = runner
        self.payments = payments
        self.policy = policy

    def register(
        self,
        caller: Principal,
        trip_id: UUID,
        student_name: str,
        card: Card | None = None,
        idempotency_key: str | None = None,
    ) -> Written[RegistrationOut]:
        """Book a seat for a student (the caller is the parent), and pay with `card` if
        given (else pay later with `pay`, while the seat is held)."""
        request = keyed_request(
            caller,
            idempotency_key,
            "register",
            trip=str(trip_id),
            student=student_name,
            card=card_fingerprint(self.payments.fingerprinter, card) if card else None,
        )
        command = partial(self._book, caller.subject, trip_id, student_name, card, request.digest)
        return self.runner.run(command, presenters_people.registration, request, [trip_id])

    def _book(
        self,
        parent_id: str,
        trip_id: UUID,
        student_name: str,
        card: Card | None,
        digest: str,
        uow: UnitOfWork,
    ) -> Registration:
        trip = uow.get(Trip, trip_id, TripNotFoundError)
        if trip.deleted:
            raise TripNotFoundError()
        registration = Registration.book(
            uow.command_id,
            trip.id,
            parent_id,
            student_name,
            trip.price_minor,
            trip.currency,
            uow.now,
        )
        trip.hold_seat(registration.id, uow.now + self.policy.seat_hold, uow.now)
        uow.save(trip, registration)
        if trip.price_minor == 0:  # a free trip needs no payment: the seat is confirmed
            trip.confirm_seat(registration.id, uow.now)
            registration.confirm(registration.id, uow.now)
        elif card is not None:
            self._attach_payment(uow, trip, registration, card, digest)
        return registration

    def pay(
        self,
        caller: Principal,
        registration_id: UUID,
        card: Card,
        idempotency_key: str | None = None,
    ) -> Written[RegistrationOut]:
        """Pay for a registration (seed 000's `POST /payments` with a `registration_id`):
        the amount is the trip's price, never the client's. A seat that lapsed is held
        again if one is left."""
        request = keyed_request(
            caller,
            idempotency_key,
            "pay_registration",
            registration=str(registration_id),
            card=card_fingerprint(self.payments.fingerprinter, card),
        )
        command = partial(self._pay, caller, registration_id, card, request.digest)
        return self.runner.run(command, presenters_people.registration, request)

    def _pay(
        self,
        caller: Principal,
        registration_id: UUID,
        card: Card,
        digest: str,
        uow: UnitOfWork,
    ) -> Registration:
        registration = self._owned(uow, caller, registration_id)
        if registration.status not in (RegistrationStatus.PENDING, RegistrationStatus.RELEASED):
            raise InvalidRegistrationTransitionError(
                f"The registration is {registration.status}: there is nothing to pay."
            )
        trip = uow.get(Trip, registration.trip_id, TripNotFoundError)
        trip.hold_seat(registration.id, uow.now + self.policy.seat_hold, uow.now)
        self._attach_payment(uow, trip, registration, card, digest)
        uow.save(trip, registration)
        return registration

    def _attach_payment(
        self,
        uow: UnitOfWork,
        trip: Trip,
        registration: Registration,
        card: Card,
        digest: str,
    ) -> None:
        payee = school_payee(trip)
        request = PaymentRequest(
            payer_id=registration.parent_id,
            recipient=payee,
            amount_minor=trip.price_minor,
            currency=trip.currency,
            method=PaymentMethod.CARD,
            description=f"{trip.title}: {registration.student_name}",
            splits=self.policy.splits(payee),
            card=card,
        )
        # One payment per paying request: the request's id names it (keyed: the key's).
        payment_id = uuid5(uow.command_id, "payment")
        payment = self.payments.add_payment(
            uow,
            payment_id,
            request,
            digest,
            owner_id=registration.parent_id,
            reference=f"{REFERENCE_PREFIX}{registration.id}",
        )
        registration.attach_payment(payment.id, uow.now)
        uow.save(payment, registration)

    def get_registration(self, caller: Principal, registration_id: UUID) -> RegistrationOut:
        registration = self.runner.read(Registration, registration_id, RegistrationNotFoundError)
        if not caller.may_read(registration.parent_id):
            raise RegistrationNotFoundError()
        return presenters_people.registration(registration)

    def rename_student(
        self, caller: Principal, registration_id: UUID, student_name: str
    ) -> Written[RegistrationOut]:
        command = partial(self._rename, caller, registration_id, student_name)
        return self.runner.run(command, presenters_people.registration, None, [registration_id])

    def _rename(
        self, caller: Principal, registration_id: UUID, student_name: str, uow: UnitOfWork
    ) -> Registration:
        registration = self._owned(uow, caller, registration_id)
        registration.rename_student(student_name, uow.now)
        uow.save(registration)
        return registration

    def cancel(
        self, caller: Principal, registration_id: UUID, reason: str = "cancelled"
    ) -> Written[RegistrationOut]:
        """Cancel a registration: its seat is given back at once, a paid one refunded in
        full if the trip has not started (the refund follows, by the processor)."""
        command = partial(self._cancel, caller, registration_id, reason)
        return self.runner.run(command, presenters_people.registration, None, [registration_id])

    def _cancel(
        self, caller: Principal, registration_id: UUID, reason: str, uow: UnitOfWork
    ) -> Registration:
        registration = self._owned(uow, caller, registration_id)
        trip = uow.get(Trip, registration.trip_id, TripNotFoundError)
        paid = registration.status == RegistrationStatus.CONFIRMED
        before_start = uow.now < trip.starts_at
        refund = registration.price_minor if paid and before_start else 0
        registration.cancel(reason, refund, uow.now)
        if trip.holds_seat(registration.id, uow.now) or str(registration.id) in trip.confirmed:
            trip.release_seat(registration.id, "cancelled")
        uow.save(registration, trip)
        return registration

    @staticmethod
    def _owned(uow: UnitOfWork, caller: Principal, registration_id: UUID) -> Registration:
        """The registration if the caller may act on it; another parent's is not found."""
        registration = uow.get(Registration, registration_id, RegistrationNotFoundError)
        if not caller.may_act_for(registration.parent_id):
            raise RegistrationNotFoundError()
        return registration
