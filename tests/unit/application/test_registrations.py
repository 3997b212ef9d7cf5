"""Registrations: a seat held with its payment in one save, confirmed or released by the
payment's outcome, never more seats than the capacity, refunds when a seat is lost."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from application.errors import RegistrationNotFoundError
from application.principal import SYSTEM
from domain.errors import TripFullError
from domain.payment_terms import PaymentStatus
from domain.registration import RegistrationStatus
from tests.unit.application.fakes import FakeClock
from tests.unit.application.payment_fakes import (
    DECLINED_CARD,
    GOOD_CARD,
    UNKNOWN_BUT_CHARGED,
    CountingGateway,
    assert_money_conserved,
    card,
    payee_balance,
    token_of,
)
from tests.unit.application.people_support import (
    People,
    customer,
    make_people,
    scheduled_trip,
)
from tests.unit.application.support import App

pytestmark = pytest.mark.unit

PENDING, CONFIRMED = RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED
RELEASED, CANCELLED = RegistrationStatus.RELEASED, RegistrationStatus.CANCELLED
OTHER_CARD = "5555555555554444"  # a good card with another token


@pytest.fixture
def people(app: App) -> People:
    return make_people(app)


def settle(app: App, people: People) -> None:
    """The payment processor and the registration processor catch up with the log."""
    from eventsourcing.popo import POPOTrackingRecorder

    from application.payment_processor import PaymentProcessor
    from application.projection_runner import ProjectionRunner

    payments = PaymentProcessor(POPOTrackingRecorder(), app.settlement, app.clock)
    ProjectionRunner(app.ledger, payments).catch_up()
    people.processor.catch_up()


def test_booking_with_a_card_holds_a_seat_and_the_paid_payment_confirms_it(
    app: App, people: People
) -> None:
    parent = customer(people, "p@example.com")
    trip = UUID(scheduled_trip(people, capacity=2))

    booked = people.registrations.register(parent, trip, "Kid", card()).value
    assert (booked.status, booked.price) == (PENDING, 2_500)
    assert people.catalog.get_trip(trip).seats_taken == 1

    settle(app, people)

    done = people.registrations.get_registration(parent, booked.id)
    payment = app.payments.get_payment(SYSTEM, done.payment_id)  # type: ignore[arg-type]
    assert (done.status, payment.status, payment.amount) == (CONFIRMED, "SUCCESS", 2_500)
    assert people.catalog.get_trip(trip).seats_taken == 1
    assert payee_balance(app, f"school:{people.catalog.get_trip(trip).school_id}", "USD") == 2_500
    assert_money_conserved(app)


def test_a_declined_card_releases_the_seat(app: App, people: People) -> None:
    parent = customer(people, "p@example.com")
    trip = UUID(scheduled_trip(people, capacity=1))

    booked = people.registrations.register(parent, trip, "Kid", card(DECLINED_CARD)).value
    settle(app, people)

    assert people.registrations.get_registration(parent, booked.id).status == RELEASED
    assert people.catalog.get_trip(trip).seats_left == 1


def test_a_full_trip_refuses_a_booking_and_records_nothing(app: App, people: People) -> None:
    parent = customer(people, "p@example.com")
    trip = UUID(scheduled_trip(people, capacity=1))
    people.registrations.register(parent, trip, "First", card())

    with pytest.raises(TripFullError):
        people.registrations.register(parent, trip, "Second", card())

    assert people.catalog.get_trip(trip).seats_taken == 1


def test_racing_bookings_never_take_more_seats_than_the_capacity(app: App, people: People) -> None:
    parents = [customer(people, f"p{i}@example.com") for i in range(12)]
    trip = UUID(scheduled_trip(people, capacity=5))
    outcomes: list[str] = []
    lock = threading.Lock()

    def book(index: int) -> None:
        try:
            people.registrations.register(parents[index], trip, f"Kid {index}", card())
            result = "booked"
        except TripFullError:
            result = "full"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=book, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settle(app, people)

    assert sorted(outcomes) == ["booked"] * 5 + ["full"] * 7
    trip_now = people.catalog.get_trip(trip)
    assert (trip_now.seats_taken, trip_now.seats_left) == (5, 0)


def test_pay_later_while_the_seat_is_held_with_seed_000s_payment(app: App, people: People) -> None:
    parent = customer(people, "p@example.com")
    trip = UUID(scheduled_trip(people))
    booked = people.registrations.register(parent, trip, "Kid").value
    assert booked.payment_id is None

    paid = people.registrations.pay(parent, booked.id, card()).value
    settle(app, people)

    assert paid.payment_id is not None
    assert people.registrations.get_registration(parent, booked.id).status == CONFIRMED


def test_paying_for_a_lapsed_seat_on_a_full_trip_is_refused_before_any_charge(
    app: App, people: People, clock: FakeClock, gateway: CountingGateway
) -> None:
    first, second = customer(people, "a@example.com"), customer(people, "b@example.com")
    trip = UUID(scheduled_trip(people, capacity=1))
    late = people.registrations.register(first, trip, "Late").value  # no card: pay later
    clock.advance(16 * 60)  # the hold lapses
    people.registrations.register(second, trip, "On time", card())

    with pytest.raises(TripFullError):
        people.registrations.pay(first, late.id, card())

    assert gateway.charge_calls == []


def test_a_payment_that_lands_after_its_seat_lapsed_on_a_full_trip_is_refunded(
    app: App, people: People, clock: FakeClock, gateway: CountingGateway
) -> None:
    first, second = customer(people, "a@example.com"), customer(people, "b@example.com")
    trip = UUID(scheduled_trip(people, capacity=1))
    gateway.script(token_of(GOOD_CARD), UNKNOWN_BUT_CHARGED)  # paid, but the answer is lost
    late = people.registrations.register(first, trip, "Late", card()).value
    clock.advance(16 * 60)  # the hold lapses while the payment is still being processed
    people.registrations.register(second, trip, "On time", card(OTHER_CARD))
    assert late.payment_id is not None

    settle(app, people)  # the first payment is asked again and turns out paid

    assert people.registrations.get_registration(first, late.id).status == RELEASED
    payment = app.payments.get_payment(SYSTEM, late.payment_id)
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, 2_500)
    assert people.catalog.get_trip(trip).seats_taken == 1
    assert_money_conserved(app)


def test_cancelling_a_paid_registration_gives_the_seat_back_and_refunds_it(
    app: App, people: People
) -> None:
    parent = customer(people, "p@example.com")
    trip = UUID(scheduled_trip(people, capacity=1))
    booked = people.registrations.register(parent, trip, "Kid", card()).value
    settle(app, people)

    cancelled = people.registrations.cancel(parent, booked.id).value
    settle(app, people)

    assert (cancelled.status, cancelled.refund) == (CANCELLED, 2_500)
    assert people.catalog.get_trip(trip).seats_left == 1
    payment = app.payments.get_payment(SYSTEM, booked.payment_id)  # type: ignore[arg-type]
    assert payment.status == PaymentStatus.REFUNDED
    assert_money_conserved(app)


def test_another_parents_registration_is_not_found(app: App, people: People) -> None:
    parent, other = customer(people, "p@example.com"), customer(people, "o@example.com")
    trip = UUID(scheduled_trip(people))
    booked = people.registrations.register(parent, trip, "Kid").value

    for attempt in (
        lambda: people.registrations.get_registration(other, booked.id),
        lambda: people.registrations.cancel(other, booked.id),
        lambda: people.registrations.rename_student(other, booked.id, "x"),
        lambda: people.registrations.pay(other, booked.id, card()),
    ):
        with pytest.raises(RegistrationNotFoundError):
            attempt()
    assert people.registrations.get_registration(SYSTEM, booked.id).status == PENDING
