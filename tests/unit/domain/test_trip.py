"""Trip seats: confirmed plus held never exceed the capacity; holds lapse; events replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidCapacityError, SeatNotHeldError, TripFullError
from domain.money import Money
from domain.trip import Trip, TripDetails

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def trip(capacity: int = 2) -> Trip:
    details = TripDetails(
        "Zoo", "", "City zoo", NOW + timedelta(days=30), Money(2500, "USD"), capacity
    )
    return Trip.schedule(uuid4(), uuid4(), details)


def test_holds_a_seat_until_the_trip_is_full_and_refuses_more() -> None:
    zoo = trip(2)
    first, second = uuid4(), uuid4()
    zoo.hold_seat(first, NOW + timedelta(minutes=15), NOW)
    zoo.hold_seat(second, None, NOW)
    version = zoo.version

    with pytest.raises(TripFullError):
        zoo.hold_seat(uuid4(), None, NOW)

    assert (zoo.seats_taken(NOW), zoo.seats_left(NOW), zoo.version) == (2, 0, version)


def test_holding_again_for_the_same_registration_takes_no_second_seat() -> None:
    zoo = trip(2)
    registration = uuid4()
    zoo.hold_seat(registration, None, NOW)
    zoo.hold_seat(registration, None, NOW)

    assert zoo.seats_taken(NOW) == 1


def test_a_lapsed_hold_stops_counting_and_is_released_by_the_next_hold() -> None:
    zoo = trip(1)
    lapsing = uuid4()
    zoo.hold_seat(lapsing, NOW + timedelta(minutes=15), NOW)
    later = NOW + timedelta(minutes=16)

    assert zoo.seats_left(later) == 1
    zoo.hold_seat(uuid4(), None, later)
    assert str(lapsing) not in zoo.held
    assert zoo.seats_taken(later) == 1


def test_confirming_a_lapsed_hold_takes_a_seat_again_only_if_one_is_left() -> None:
    zoo = trip(1)
    lapsed, other = uuid4(), uuid4()
    zoo.hold_seat(lapsed, NOW + timedelta(minutes=15), NOW)
    later = NOW + timedelta(minutes=20)
    zoo.hold_seat(other, None, later)

    with pytest.raises(TripFullError):
        zoo.confirm_seat(lapsed, later)

    zoo.release_seat(other, "payment_failed")
    zoo.confirm_seat(lapsed, later)
    assert zoo.confirmed == (str(lapsed),)


def test_the_capacity_cannot_drop_below_the_seats_taken() -> None:
    zoo = trip(3)
    zoo.hold_seat(uuid4(), None, NOW)
    zoo.hold_seat(uuid4(), None, NOW)
    smaller = TripDetails("Zoo", "", "City zoo", NOW, Money(2500, "USD"), 1)

    with pytest.raises(InvalidCapacityError):
        zoo.update(smaller, NOW)
    assert zoo.capacity == 3


def test_releasing_a_seat_nobody_holds_is_refused() -> None:
    with pytest.raises(SeatNotHeldError):
        trip().release_seat(uuid4(), "cancelled")


def test_every_change_is_an_event_that_replays_to_the_same_trip() -> None:
    zoo = trip(3)
    held, confirmed = uuid4(), uuid4()
    zoo.hold_seat(held, NOW + timedelta(minutes=5), NOW)
    zoo.hold_seat(confirmed, None, NOW)
    zoo.confirm_seat(confirmed, NOW)

    replayed = None
    for domain_event in zoo.collect_events():
        replayed = domain_event.mutate(replayed)

    assert isinstance(replayed, Trip)
    assert (replayed.held, replayed.confirmed) == (zoo.held, zoo.confirmed)
