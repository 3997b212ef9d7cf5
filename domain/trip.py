"""School and Trip (seed 000): a school's trips, each with a price and a number of seats.

A trip is the consistency boundary of its seats: every booking holds a seat on the trip in
the same save as the registration, with optimistic concurrency on the trip's version, so
confirmed plus held seats can never exceed the capacity, whatever the concurrency. A held seat
lapses at its expiry (it then stops counting); a confirmed seat is kept until cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    InvalidCapacityError,
    InvalidTripError,
    SeatNotHeldError,
    TripFullError,
    TripGoneError,
)
from domain.money import Money
from domain.text import check_text

CAPACITY_MAX = 10_000
NAME_LENGTH_MAX = 200
DESCRIPTION_LENGTH_MAX = 2_000


def check_label(value: str, field: str, length_max: int = NAME_LENGTH_MAX) -> str:
    """A required, bounded, printable text field."""
    if not value.strip() or len(value) > length_max:
        raise InvalidTripError(f"`{field}` must be 1 to {length_max} characters.")
    return check_text(value, field, length_max)


class School(Aggregate):
    """A school that runs trips."""

    class Created(Aggregate.Created):
        name: str
        address: str

    class Updated(Aggregate.Event):
        name: str
        address: str

    class Deleted(Aggregate.Event):
        pass

    @classmethod
    def create(cls, school_id: UUID, name: str, address: str = "") -> School:
        check_text(address, "address", NAME_LENGTH_MAX)
        return cls._create(
            cls.Created, id=school_id, name=check_label(name, "name"), address=address
        )

    @event(Created)
    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address
        self.deleted = False

    def update(self, name: str, address: str) -> None:
        self._require_present()
        check_text(address, "address", NAME_LENGTH_MAX)
        self._update(check_label(name, "name"), address)

    def delete(self) -> None:
        self._require_present()
        self._delete()

    def _require_present(self) -> None:
        if self.deleted:
            raise TripGoneError("The school was deleted.")

    @event(Updated)
    def _update(self, name: str, address: str) -> None:
        self.name = name
        self.address = address

    @event(Deleted)
    def _delete(self) -> None:
        self.deleted = True


class Trip(Aggregate):
    """A trip of a school: what it is, what a seat costs, and who holds which seat."""

    class Scheduled(Aggregate.Created):
        school_id: UUID
        title: str
        description: str
        location: str
        starts_at: datetime
        price_minor: int
        currency: str
        capacity: int

    class Updated(Aggregate.Event):
        title: str
        description: str
        location: str
        starts_at: datetime
        price_minor: int
        currency: str
        capacity: int

    class Deleted(Aggregate.Event):
        pass

    class SeatHeld(Aggregate.Event):
        registration_id: UUID
        expires_at: datetime | None

    class SeatConfirmed(Aggregate.Event):
        registration_id: UUID

    class SeatReleased(Aggregate.Event):
        registration_id: UUID
        reason: str

    @classmethod
    def schedule(
        cls,
        trip_id: UUID,
        school_id: UUID,
        details: TripDetails,
    ) -> Trip:
        details.check()
        return cls._create(cls.Scheduled, id=trip_id, school_id=school_id, **details.fields())

    @event(Scheduled)
    def __init__(
        self,
        school_id: UUID,
        title: str,
        description: str,
        location: str,
        starts_at: datetime,
        price_minor: int,
        currency: str,
        capacity: int,
    ) -> None:
        self.school_id = school_id
        self._assign(title, description, location, starts_at, price_minor, currency, capacity)
        self.deleted = False
        self.held: dict[str, datetime | None] = {}  # registration id -> expiry
        self.confirmed: tuple[str, ...] = ()

    @property
    def price(self) -> Money:
        return Money(self.price_minor, self.currency)

    def seats_held(self, now: datetime) -> int:
        return sum(1 for expiry in self.held.values() if expiry is None or expiry > now)

    def seats_taken(self, now: datetime) -> int:
        """Confirmed seats plus seats held and not yet lapsed."""
        return len(self.confirmed) + self.seats_held(now)

    def seats_left(self, now: datetime) -> int:
        return max(0, self.capacity - self.seats_taken(now))

    def holds_seat(self, registration_id: UUID, now: datetime) -> bool:
        expiry = self.held.get(str(registration_id), now)
        return str(registration_id) in self.held and (expiry is None or expiry > now)

    # Commands.

    def update(self, details: TripDetails, now: datetime) -> None:
        """New details; the capacity may not drop below the seats taken."""
        self._require_present()
        details.check()
        if details.capacity < self.seats_taken(now):
            raise InvalidCapacityError(
                f"{self.seats_taken(now)} seats are taken: the capacity cannot be lower."
            )
        d = details
        self._update(
            d.title,
            d.description,
            d.location,
            d.starts_at,
            d.price.amount_minor,
            d.price.currency,
            d.capacity,
        )

    def delete(self, now: datetime) -> None:
        """Remove a trip nobody holds a seat on."""
        self._require_present()
        if self.seats_taken(now):
            raise InvalidCapacityError("Seats are taken on this trip: cancel them first.")
        self._delete()

    def hold_seat(self, registration_id: UUID, expires_at: datetime | None, now: datetime) -> None:
        """Reserve a seat for a registration (lapsed holds are released first)."""
        self._require_present()
        self.release_lapsed(now)
        if self.holds_seat(registration_id, now) or str(registration_id) in self.confirmed:
            return
        if self.seats_left(now) < 1:
            raise TripFullError()
        self._hold(registration_id, expires_at)

    def confirm_seat(self, registration_id: UUID, now: datetime) -> None:
        """The registration is paid: its held seat is confirmed (or, if the hold lapsed,
        taken again if one is left; else `TripFullError`)."""
        if str(registration_id) in self.confirmed:
            return
        if not self.holds_seat(registration_id, now):
            self.hold_seat(registration_id, None, now)
        self._confirm(registration_id)

    def release_seat(self, registration_id: UUID, reason: str) -> None:
        """Give a held or confirmed seat back."""
        key = str(registration_id)
        if key not in self.held and key not in self.confirmed:
            raise SeatNotHeldError()
        self._release(registration_id, reason)

    def release_lapsed(self, now: datetime) -> None:
        for key, expiry in list(self.held.items()):
            if expiry is not None and expiry <= now:
                self._release(UUID(key), "expired")

    def _require_present(self) -> None:
        if self.deleted:
            raise TripGoneError()

    # State changes: they only assign.

    def _assign(
        self,
        title: str,
        description: str,
        location: str,
        starts_at: datetime,
        price_minor: int,
        currency: str,
        capacity: int,
    ) -> None:
        self.title = title
        self.description = description
        self.location = location
        self.starts_at = starts_at
        self.price_minor = price_minor
        self.currency = currency
        self.capacity = capacity

    @event(Updated)
    def _update(
        self,
        title: str,
        description: str,
        location: str,
        starts_at: datetime,
        price_minor: int,
        currency: str,
        capacity: int,
    ) -> None:
        self._assign(title, description, location, starts_at, price_minor, currency, capacity)

    @event(Deleted)
    def _delete(self) -> None:
        self.deleted = True

    @event(SeatHeld)
    def _hold(self, registration_id: UUID, expires_at: datetime | None) -> None:
        self.held = {**self.held, str(registration_id): expires_at}

    @event(SeatConfirmed)
    def _confirm(self, registration_id: UUID) -> None:
        key = str(registration_id)
        self.held = {k: v for k, v in self.held.items() if k != key}
        self.confirmed = (*self.confirmed, key)

    @event(SeatReleased)
    def _release(self, registration_id: UUID, reason: str) -> None:
        key = str(registration_id)
        self.held = {k: v for k, v in self.held.items() if k != key}
        self.confirmed = tuple(k for k in self.confirmed if k != key)


@dataclass(frozen=True)
class TripDetails:
    """What describes a trip (everything but its school and its seats)."""

    title: str
    description: str
    location: str
    starts_at: datetime
    price: Money
    capacity: int

    def check(self) -> None:
        check_label(self.title, "title")
        check_label(self.location, "location")
        check_text(self.description, "description", DESCRIPTION_LENGTH_MAX)
        if self.starts_at.tzinfo is None:
            raise InvalidTripError("`date` needs a time zone.")
        if self.price.amount_minor < 0:
            raise InvalidTripError("A trip's price cannot be negative.")
        if isinstance(self.capacity, bool) or not 1 <= self.capacity <= CAPACITY_MAX:
            raise InvalidCapacityError(f"The capacity must be 1 to {CAPACITY_MAX} seats.")

    def fields(self) -> dict[str, object]:
        return {
            "title": self.title,
            "description": self.description,
            "location": self.location,
            "starts_at": self.starts_at,
            "price_minor": self.price.amount_minor,
            "currency": self.price.currency,
            "capacity": self.capacity,
        }
