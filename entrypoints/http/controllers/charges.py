"""Charges (seed 003): the customer's wallet first, a card for the rest."""

from __future__ import annotations

from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.charges import ChargeRequest, ChargeService
from application.payment_queries import PaymentQueries
from application.ports.gateway import Card
from application.principal import Principal
from application.results import Charge, PaymentPage
from application.view_positions import PAYMENTS_VIEW, ViewPositions
from domain.money import Money
from domain.payment_terms import PaymentMethod
from domain.splits import SPLITS_MAX, Split
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import (
    Amount,
    CardIn,
    Currency,
    CustomerId,
    Description,
    Party,
    PaymentMethodToken,
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
from entrypoints.http.view_waits import wait_for_writes
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response


class ChargeCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Charge a customer: their wallet pays what it can, the card (or payment method) the
    rest. The response shows how much came from each."""

    customer_id: CustomerId
    recipient: Party
    amount: Amount
    currency: Currency
    card: CardIn | None = None
    payment_method: PaymentMethodToken | None = None
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
        request = ChargeRequest(
            customer_id=data.customer_id,
            recipient=data.recipient,
            amount=Money.positive(data.amount, data.currency),
            card=card,
            payment_method=data.payment_method,
            description=data.description,
            splits=tuple(Split(s.payee, s.bps, s.amount) for s in data.splits),
        )
        written = await in_thread(charges.create_charge, principal, request, idempotency_key)
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
        return await in_thread(charges.get_charge, principal, charge_id)

    @get(
        "/",
        operation_id="ListCharges",
        summary="Charges (payments with method `wallet_first`), newest first",
        responses=problem_responses(503),
    )
    @inject
    async def list_charges(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PaymentQueries],
        positions: FromDishka[ViewPositions],
        customer_id: PayerId = None,
        status: PaymentStatus = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> PaymentPage:
        await wait_for_writes(positions, PAYMENTS_VIEW, min_position)
        return await in_thread(
            queries.list,
            principal,
            status=status,
            payer_id=customer_id,
            cursor=cursor,
            limit=limit,
            method=PaymentMethod.WALLET_FIRST,
        )
