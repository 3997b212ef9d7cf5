"""The identity, catalog and registration use cases on an application test's in-memory log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eventsourcing.popo import POPOTrackingRecorder

from adapters.identity.argon2_hasher import Argon2PasswordHasher
from adapters.identity.jwt_codec import JwtTokenCodec
from application.catalog import CatalogService
from application.principal import SYSTEM, Principal
from application.projection_runner import ProjectionRunner
from application.registration_processor import RegistrationProcessor
from application.registrations import RegistrationPolicy, RegistrationService
from application.users import UserService
from domain.money import Money
from domain.trip import TripDetails
from domain.user import UserRole
from tests.unit.application.support import App

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
TRIP_DAY = datetime(2026, 3, 1, 9, tzinfo=UTC)  # after the fake clock's start


@dataclass
class People:
    users: UserService
    catalog: CatalogService
    registrations: RegistrationService
    processor: ProjectionRunner


def make_people(app: App, policy: RegistrationPolicy | None = None) -> People:
    """The use cases as the composition root wires them (argon2 made cheap for tests)."""
    users = UserService(app.runner, Argon2PasswordHasher(1, 1024), JwtTokenCodec(SECRET, app.clock))
    registrations = RegistrationService(
        app.runner, app.payments, policy or RegistrationPolicy(timedelta(minutes=15))
    )
    processor = RegistrationProcessor(POPOTrackingRecorder(), app.runner, app.refunds)
    return People(
        users, CatalogService(app.runner), registrations, ProjectionRunner(app.ledger, processor)
    )


def customer(people: People, email: str) -> Principal:
    written = people.users.register(SYSTEM, email, "password-123", "", UserRole.CUSTOMER)
    return Principal(str(written.value.id), frozenset({UserRole.CUSTOMER}))


def scheduled_trip(people: People, capacity: int = 2, price_minor: int = 2_500) -> str:
    school = people.catalog.create_school(SYSTEM, "Schooly").value
    details = TripDetails("Zoo", "", "City zoo", TRIP_DAY, Money(price_minor, "USD"), capacity)
    return str(people.catalog.create_trip(SYSTEM, school.id, details).value.id)
