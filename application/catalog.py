"""The catalog (seed 000): schools and their trips. Admins write; anyone reads.

A single trip is read from the log (its seats exact); lists come from the document view
(highly available, eventually consistent; `min_position` reads your own write).
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

from application import presenters_people
from application.errors import SchoolNotFoundError, TripNotFoundError
from application.idempotency import keyed_request
from application.principal import Principal
from application.results import Written
from application.results_people import SchoolOut, TripOut
from application.runner import CommandRunner, UnitOfWork
from domain.trip import School, Trip, TripDetails


class CatalogService:
    """Schools and trips."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    # Schools.

    def create_school(
        self, caller: Principal, name: str, address: str = "", idempotency_key: str | None = None
    ) -> Written[SchoolOut]:
        caller.require_admin()
        request = keyed_request(caller, idempotency_key, "create_school", name=name, a=address)
        command = partial(self._create_school, name, address)
        return self.runner.run(command, presenters_people.school, request)

    def _create_school(self, name: str, address: str, uow: UnitOfWork) -> School:
        school = School.create(uow.command_id, name, address)
        uow.save(school)
        return school

    def get_school(self, school_id: UUID) -> SchoolOut:
        return presenters_people.school(self._school(school_id))

    def update_school(
        self, caller: Principal, school_id: UUID, name: str, address: str
    ) -> Written[SchoolOut]:
        caller.require_admin()
        command = partial(self._update_school, school_id, name, address)
        return self.runner.run(command, presenters_people.school, None, [school_id])

    def _update_school(self, school_id: UUID, name: str, address: str, uow: UnitOfWork) -> School:
        school = self._live_school(uow, school_id)
        school.update(name, address)
        uow.save(school)
        return school

    def delete_school(self, caller: Principal, school_id: UUID) -> None:
        caller.require_admin()
        self.runner.run(partial(self._delete_school, school_id), _nothing, None, [school_id])

    def _delete_school(self, school_id: UUID, uow: UnitOfWork) -> School:
        school = self._live_school(uow, school_id)
        school.delete()
        uow.save(school)
        return school

    # Trips.

    def create_trip(
        self,
        caller: Principal,
        school_id: UUID,
        details: TripDetails,
        idempotency_key: str | None = None,
    ) -> Written[TripOut]:
        caller.require_admin()
        details.check()
        request = keyed_request(
            caller,
            idempotency_key,
            "create_trip",
            school=str(school_id),
            title=details.title,
            starts=details.starts_at.isoformat(),
            price=details.price.amount_minor,
            currency=details.price.currency,
            capacity=details.capacity,
        )
        command = partial(self._create_trip, school_id, details)
        return self.runner.run(command, self._present_trip, request, [school_id])

    def _create_trip(self, school_id: UUID, details: TripDetails, uow: UnitOfWork) -> Trip:
        self._live_school(uow, school_id)  # an unknown school is a 404, not a broken trip
        trip = Trip.schedule(uow.command_id, school_id, details)
        uow.save(trip)
        return trip

    def get_trip(self, trip_id: UUID) -> TripOut:
        trip = self.runner.read(Trip, trip_id, TripNotFoundError)
        if trip.deleted:
            raise TripNotFoundError()
        return self._present_trip(trip)

    def update_trip(
        self, caller: Principal, trip_id: UUID, details: TripDetails
    ) -> Written[TripOut]:
        caller.require_admin()
        command = partial(self._update_trip, trip_id, details)
        return self.runner.run(command, self._present_trip, None, [trip_id])

    def _update_trip(self, trip_id: UUID, details: TripDetails, uow: UnitOfWork) -> Trip:
        trip = self._live_trip(uow, trip_id)
        trip.update(details, uow.now)
        uow.save(trip)
        return trip

    def delete_trip(self, caller: Principal, trip_id: UUID) -> None:
        caller.require_admin()
        self.runner.run(partial(self._delete_trip, trip_id), _nothing, None, [trip_id])

    def _delete_trip(self, trip_id: UUID, uow: UnitOfWork) -> Trip:
        trip = self._live_trip(uow, trip_id)
        trip.delete(uow.now)
        uow.save(trip)
        return trip

    # Helpers.

    def _present_trip(self, trip: Trip) -> TripOut:
        return presenters_people.trip(trip, self.runner.clock.now())

    def _school(self, school_id: UUID) -> School:
        school = self.runner.read(School, school_id, SchoolNotFoundError)
        if school.deleted:
            raise SchoolNotFoundError()
        return school

    @staticmethod
    def _live_school(uow: UnitOfWork, school_id: UUID) -> School:
        school = uow.get(School, school_id, SchoolNotFoundError)
        if school.deleted:
            raise SchoolNotFoundError()
        return school

    @staticmethod
    def _live_trip(uow: UnitOfWork, trip_id: UUID) -> Trip:
        trip = uow.get(Trip, trip_id, TripNotFoundError)
        if trip.deleted:
            raise TripNotFoundError()
        return trip


def _nothing(_: object) -> None:
    return None
