"""Registrations (seed 000): book a seat on a trip for a student, and pay for it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from application.people_queries import PeopleQueries
from application.ports.gateway import Card
from application.principal import Principal
from application.registrations import RegistrationService
from application.results_people import RegistrationOut, RegistrationPage
from domain.registration import STUDENT_NAME_LENGTH_MAX
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import CardIn
from entrypoints.http.controllers.users import NO_CONTROL_PATTERN
from entrypoints.http.params import PAGE_SIZE_DEFAULT, Cursor, MinPosition, PageSize
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response

RegistrationId = Annotated[UUID, PathParameter(description="The registration's id.")]
StudentName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=STUDENT_NAME_LENGTH_MAX, pattern=NO_CONTROL_PATTERN),
]
TripFilter = Annotated[UUID | None, QueryParameter(description="Only this trip's registrations.")]


class RegistrationIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Book a seat for a student on a trip; with `card`, pay at once (else pay later with
    `POST /payments {registration_id, card_number, expiry_date, cvv}` while the seat is held).
    The price is the trip's."""

    trip_id: UUID
    student_name: StudentName
    card: CardIn | None = None


class RegistrationPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    student_name: StudentName


class RegistrationCancel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_CONTROL_PATTERN)] = "cancelled"


def card_of(data: CardIn | None) -> Card | None:
    if data is None:
        return None
    return Card(data.number, data.exp_month, data.exp_year, data.cvc)


class RegistrationController(ApiController):
    path = "/registrations"
    tags = ["registrations"]

    @post(
        "/",
        operation_id="CreateRegistration",
        status_code=201,
        summary="Book a seat for a student (you are the parent), and pay for it",
        responses=problem_responses(401, 404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def register(
        self,
        data: JSONBody[RegistrationIn],
        principal: NamedDependency[Principal],
        registrations: FromDishka[RegistrationService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RegistrationOut]:
        written = await in_thread(
            registrations.register,
            principal,
            data.trip_id,
            data.student_name,
            card_of(data.card),
            idempotency_key,
        )
        return written_response(written, 201, f"/registrations/{written.value.id}")

    @get(
        "/",
        operation_id="ListRegistrations",
        summary="Every registration (admins)",
        responses=problem_responses(401, 403, 503),
    )
    @inject
    async def list_all(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PeopleQueries],
        trip_id: TripFilter = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> RegistrationPage:
        return await in_thread(
            queries.registrations, principal, False, trip_id, cursor, limit, min_position
        )

    @get(
        "/me",
        operation_id="ListMyRegistrations",
        summary="Your registrations",
        responses=problem_responses(401, 503),
    )
    @inject
    async def list_mine(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PeopleQueries],
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> RegistrationPage:
        return await in_thread(
            queries.registrations, principal, True, None, cursor, limit, min_position
        )

    @get(
        "/{registration_id:uuid}",
        operation_id="GetRegistration",
        summary="A registration (yours; admins any), from the log",
        responses=problem_responses(401, 404),
    )
    @inject
    async def get_registration(
        self,
        registration_id: RegistrationId,
        principal: NamedDependency[Principal],
        registrations: FromDishka[RegistrationService],
    ) -> RegistrationOut:
        return await in_thread(registrations.get_registration, principal, registration_id)

    @patch(
        "/{registration_id:uuid}",
        operation_id="UpdateRegistration",
        summary="Correct the student's name",
        responses=problem_responses(401, 404, 409),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def rename(
        self,
        registration_id: RegistrationId,
        data: JSONBody[RegistrationPatch],
        principal: NamedDependency[Principal],
        registrations: FromDishka[RegistrationService],
    ) -> Response[RegistrationOut]:
        written = await in_thread(
            registrations.rename_student, principal, registration_id, data.student_name
        )
        return written_response(written, 200)

    @delete(
        "/{registration_id:uuid}",
        operation_id="CancelRegistration",
        status_code=200,
        summary="Cancel: the seat is given back; a paid seat is refunded in full if the "
        "trip has not started",
        responses=problem_responses(401, 404, 409),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def cancel(
        self,
        registration_id: RegistrationId,
        principal: NamedDependency[Principal],
        registrations: FromDishka[RegistrationService],
    ) -> Response[RegistrationOut]:
        written = await in_thread(registrations.cancel, principal, registration_id)
        return written_response(written, 200)
