"""Presenters of users, schools, trips and registrations."""

from __future__ import annotations

from datetime import datetime

from application.results_people import RegistrationOut, SchoolOut, TripOut, UserOut
from domain.registration import Registration
from domain.trip import School, Trip
from domain.user import User, UserRole


def user(person: User) -> UserOut:
    return UserOut(
        id=person.id,
        email=person.email,
        full_name=person.full_name,
        role=person.role,
        status=person.status,
        is_active=person.active,
        is_superuser=person.role == UserRole.ADMIN,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def school(found: School) -> SchoolOut:
    return SchoolOut(id=found.id, name=found.name, address=found.address)


def trip(found: Trip, now: datetime) -> TripOut:
    taken = found.seats_taken(now)
    return TripOut(
        id=found.id,
        school_id=found.school_id,
        title=found.title,
        description=found.description,
        location=found.location,
        date=found.starts_at,
        price=found.price_minor,
        currency=found.currency,
        capacity=found.capacity,
        seats_taken=taken,
        seats_left=max(0, found.capacity - taken),
    )


def registration(found: Registration) -> RegistrationOut:
    return RegistrationOut(
        id=found.id,
        trip_id=found.trip_id,
        parent_id=found.parent_id,
        student_name=found.student_name,
        status=found.status,
        price=found.price_minor,
        currency=found.currency,
        payment_id=found.payment_id,
        reason=found.reason,
        refund=found.refund_minor,
        created_at=found.created_at,
        updated_at=found.updated_at,
    )
