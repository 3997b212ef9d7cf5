"""Schools and trips (seed 000): anyone reads the catalog; admins write it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from application.catalog import CatalogService
from application.people_queries import PeopleQueries
from application.principal import Principal
from application.results_people import SchoolOut, SchoolPage, TripOut, TripPage
from domain.money import AMOUNT_MINOR_MAX, Money
from domain.trip import CAPACITY_MAX, DESCRIPTION_LENGTH_MAX, NAME_LENGTH_MAX, TripDetails
from entrypoints.http.auth import ApiController
from entrypoints.http.controllers.users import NO_CONTROL_PATTERN, NO_SECURITY, PUBLIC
from entrypoints.http.params import (
    PAGE_SIZE_DEFAULT,
    Cursor,
    MinPosition,
    PageSize,
    require_time_zone,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response

SchoolId = Annotated[UUID, PathParameter(description="The school's id.")]
TripId = Annotated[UUID, PathParameter(description="The trip's id.")]
Label = Annotated[
    str, msgspec.Meta(min_length=1, max_length=NAME_LENGTH_MAX, pattern=NO_CONTROL_PATTERN)
]
Text = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_LENGTH_MAX, pattern=NO_CONTROL_PATTERN)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", examples=["USD"])]


class SchoolIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Label
    address: Text = ""


class TripIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A trip: `price` in minor units of `currency`; `date` with a time zone."""

    school_id: UUID
    title: Label
    location: Label
    date: datetime
    price: Annotated[int, msgspec.Meta(ge=0, le=AMOUNT_MINOR_MAX, examples=[25000])]
    capacity: Annotated[int, msgspec.Meta(ge=1, le=CAPACITY_MAX)]
    currency: Currency = "USD"
    description: Text = ""

    def details(self) -> TripDetails:
        require_time_zone("date", self.date)
        return TripDetails(
            self.title,
            self.description,
            self.location,
            self.date,
            Money(self.price, self.currency),
            self.capacity,
        )


class TripPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Change a trip: fields left out keep their value."""

    title: Label | None = None
    location: Label | None = None
    date: datetime | None = None
    price: Annotated[int, msgspec.Meta(ge=0, le=AMOUNT_MINOR_MAX)] | None = None
    capacity: Annotated[int, msgspec.Meta(ge=1, le=CAPACITY_MAX)] | None = None
    currency: Currency | None = None
    description: Text | None = None


SchoolFilter = Annotated[UUID | None, QueryParameter(description="Only this school's trips.")]


class SchoolController(ApiController):
    path = "/schools"
    tags = ["schools"]

    @get(
        "/",
        operation_id="ListSchools",
        summary="Schools, newest first (public)",
        opt=PUBLIC,
        security=NO_SECURITY,
        responses=problem_responses(503),
    )
    @inject
    async def list_schools(
        self,
        queries: FromDishka[PeopleQueries],
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> SchoolPage:
        return await in_thread(queries.schools, cursor, limit, min_position)

    @post(
        "/",
        operation_id="CreateSchool",
        summary="Add a school (admins)",
        status_code=201,
        responses=problem_responses(401, 403, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_school(
        self,
        data: JSONBody[SchoolIn],
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SchoolOut]:
        written = await in_thread(
            catalog.create_school, principal, data.name, data.address, idempotency_key
        )
        return written_response(written, 201, f"/schools/{written.value.id}")

    @get(
        "/{school_id:uuid}",
        operation_id="GetSchool",
        summary="A school (public)",
        opt=PUBLIC,
        security=NO_SECURITY,
        responses=problem_responses(404),
    )
    @inject
    async def get_school(
        self, school_id: SchoolId, catalog: FromDishka[CatalogService]
    ) -> SchoolOut:
        return await in_thread(catalog.get_school, school_id)

    @patch(
        "/{school_id:uuid}",
        operation_id="UpdateSchool",
        summary="Change a school (admins)",
        responses=problem_responses(401, 403, 404, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def update_school(
        self,
        school_id: SchoolId,
        data: JSONBody[SchoolIn],
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
    ) -> Response[SchoolOut]:
        written = await in_thread(
            catalog.update_school, principal, school_id, data.name, data.address
        )
        return written_response(written, 200)

    @delete(
        "/{school_id:uuid}",
        operation_id="DeleteSchool",
        status_code=204,
        summary="Remove a school (admins)",
        responses=problem_responses(401, 403, 404),
    )
    @inject
    async def delete_school(
        self,
        school_id: SchoolId,
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
    ) -> None:
        await in_thread(catalog.delete_school, principal, school_id)


class TripController(ApiController):
    path = "/trips"
    tags = ["trips"]

    @get(
        "/",
        operation_id="ListTrips",
        summary="Trips, newest first, with seats (public)",
        opt=PUBLIC,
        security=NO_SECURITY,
        responses=problem_responses(503),
    )
    @inject
    async def list_trips(
        self,
        queries: FromDishka[PeopleQueries],
        school_id: SchoolFilter = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> TripPage:
        return await in_thread(queries.trips, school_id, cursor, limit, min_position)

    @post(
        "/",
        operation_id="CreateTrip",
        summary="Add a trip to a school (admins)",
        status_code=201,
        responses=problem_responses(401, 403, 404, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_trip(
        self,
        data: JSONBody[TripIn],
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TripOut]:
        written = await in_thread(
            catalog.create_trip, principal, data.school_id, data.details(), idempotency_key
        )
        return written_response(written, 201, f"/trips/{written.value.id}")

    @get(
        "/{trip_id:uuid}",
        operation_id="GetTrip",
        summary="A trip with its exact seats (public; from the log)",
        opt=PUBLIC,
        security=NO_SECURITY,
        responses=problem_responses(404),
    )
    @inject
    async def get_trip(self, trip_id: TripId, catalog: FromDishka[CatalogService]) -> TripOut:
        return await in_thread(catalog.get_trip, trip_id)

    @patch(
        "/{trip_id:uuid}",
        operation_id="UpdateTrip",
        summary="Change a trip (admins)",
        responses=problem_responses(401, 403, 404, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def update_trip(
        self,
        trip_id: TripId,
        data: JSONBody[TripPatch],
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
    ) -> Response[TripOut]:
        current = await in_thread(catalog.get_trip, trip_id)
        details = TripIn(
            school_id=current.school_id,
            title=data.title or current.title,
            location=data.location or current.location,
            date=data.date or current.date,
            price=current.price if data.price is None else data.price,
            capacity=data.capacity or current.capacity,
            currency=data.currency or current.currency,
            description=current.description if data.description is None else data.description,
        ).details()
        written = await in_thread(catalog.update_trip, principal, trip_id, details)
        return written_response(written, 200)

    @delete(
        "/{trip_id:uuid}",
        operation_id="DeleteTrip",
        status_code=204,
        summary="Remove a trip nobody holds a seat on (admins)",
        responses=problem_responses(401, 403, 404, 422),
    )
    @inject
    async def delete_trip(
        self,
        trip_id: TripId,
        principal: NamedDependency[Principal],
        catalog: FromDishka[CatalogService],
    ) -> None:
        await in_thread(catalog.delete_trip, principal, trip_id)
