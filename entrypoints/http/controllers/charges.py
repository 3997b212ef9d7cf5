"""Charges (seed 003): the customer's wallet first, a card for the rest."""

from __future__ import annotations

from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.charges import ChargeService
from application.gateway import Card
from application.payment_projection import CHARGE_METHOD
from application.payment_queries import PaymentQueries
from application.results import Charge, PaymentPage
from domain.splits import SPLITS_MAX, Split
from entrypoints.http.auth import ApiController, Principal
from entrypoints.http.bodies import (
    Amount,
    CardIn,
    Currency,
    CustomerId,
    Description,
    Party,
    SplitIn,
)
from entrypoints.http.params import (
    PAGE_SIZE_DEFAULT,
    ChargeId,
    Cursor,
    MinPosition,
    PageSize,
    PayerId,
    PaymentStatus,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response


class ChargeCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Charge a customer: their wallet pays what it can, the card (or payment method) the
    rest. The response shows how much came from each."""

    customer_id: CustomerId
    recipient: Party
    amount: Amount
    currency: Currency
    card: CardIn | None = None
    payment_method: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    description: Description = ""
    splits: Annotated[list[SplitIn], msgspec.Meta(max_length=SPLITS_MAX)] = []


class ChargeController(ApiController):
    path = "/charges"
    tags = ["charges"]

    @post(
        "/",
        operation_id="CreateCharge",
        summary="Charge a customer, wallet first then card",
        status_code=201,
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_charge(
        self,
        data: JSONBody[ChargeCreate],
        principal: NamedDependency[Principal],
        charges: FromDishka[ChargeService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Charge]:
        card = None
        if data.card is not None:
            card = Card(data.card.number, data.card.exp_month, data.card.exp_year, data.card.cvc)
        splits = tuple(Split(s.payee, s.bps, s.amount) for s in data.splits)
        written = await in_thread(
            charges.create_charge,
            data.customer_id,
            data.recipient,
            data.amount,
            data.currency,
            card,
            data.payment_method,
            data.description,
            splits,
            idempotency_key=idempotency_key,
            scope=principal.idempotency_scope,
        )
        return written_response(written, 201, f"/charges/{written.value.id}")

    @get(
        "/{charge_id:uuid}",
        operation_id="GetCharge",
        summary="A charge: status and how much came from the wallet and the card",
        responses=problem_responses(404),
    )
    @inject
    async def get_charge(
        self,
        charge_id: ChargeId,
        principal: NamedDependency[Principal],
        charges: FromDishka[ChargeService],
    ) -> Charge:
        return await in_thread(charges.get_charge, charge_id)

    @get(
        "/",
        operation_id="ListCharges",
        summary="Charges, newest first (from the payments read model; pending is CREATED)",
        responses=problem_responses(503),
    )
    @inject
    async def list_charges(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PaymentQueries],
        customer_id: PayerId = None,
        status: PaymentStatus = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> PaymentPage:
        return await in_thread(
            queries.list,
            status=status,
            payer_id=customer_id,
            cursor=cursor,
            limit=limit,
            min_position=min_position,
            method=CHARGE_METHOD,
        )
