"""Holds: reserve wallet money, then post (capture) or void it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.holds import HoldService
from application.principal import Principal
from application.results import Hold, Transaction
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import HoldCreate, HoldPost, HoldVoid
from entrypoints.http.params import CustomerIdPath
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response

HoldId = Annotated[UUID, PathParameter(description="The hold's id.")]


class HoldController(ApiController):
    # Holds are placed on a wallet and then addressed by their own id, so this controller
    # spans both prefixes.
    path = "/"
    tags = ["holds"]

    @post(
        "/wallets/{customer_id:str}/holds",
        operation_id="PlaceHold",
        status_code=201,
        summary="Reserve wallet money",
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def place_hold(
        self,
        customer_id: CustomerIdPath,
        data: JSONBody[HoldCreate],
        principal: NamedDependency[Principal],
        holds: FromDishka[HoldService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Hold]:
        written = await in_thread(
            holds.place_hold,
            principal,
            customer_id,
            data.amount,
            data.currency,
            data.expires_in_s,
            data.description,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201, f"/holds/{written.value.id}")

    @get(
        "/holds/{hold_id:uuid}",
        operation_id="GetHold",
        summary="A hold",
        responses=problem_responses(404),
    )
    @inject
    async def get_hold(
        self,
        hold_id: HoldId,
        principal: NamedDependency[Principal],
        holds: FromDishka[HoldService],
    ) -> Hold:
        return await in_thread(holds.get_hold, principal, hold_id)

    @post(
        "/holds/{hold_id:uuid}/post",
        operation_id="PostHold",
        status_code=201,
        summary="Capture a hold, in full or in part",
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def post_hold(
        self,
        hold_id: HoldId,
        data: JSONBody[HoldPost],
        principal: NamedDependency[Principal],
        holds: FromDishka[HoldService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            holds.post_hold,
            principal,
            hold_id,
            data.amount,
            data.to_customer_id,
            data.description,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")

    @post(
        "/holds/{hold_id:uuid}/void",
        operation_id="VoidHold",
        status_code=200,
        summary="Release a hold without moving money",
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def void_hold(
        self,
        hold_id: HoldId,
        data: JSONBody[HoldVoid],
        principal: NamedDependency[Principal],
        holds: FromDishka[HoldService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Hold]:
        written = await in_thread(
            holds.void_hold,
            principal,
            hold_id,
            data.reason,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 200)
