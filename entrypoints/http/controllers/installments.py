"""Installment plans (seed 003's installment orders): a total paid in 1 to 24 installments,
charged wallet-first (then the plan's payment method) when each falls due."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import Body, JSONBody, PathParameter, QueryParameter

from application.installment_queries import InstallmentQueries
from application.installments import InstallmentService, PlanRequest
from application.principal import Principal
from application.results_installments import (
    InstallmentPage,
    InstallmentPlanOut,
    InstallmentPlanPage,
)
from domain.installment_plan import INSTALLMENTS_MAX, INTERVAL_DAYS_MAX, ScheduleEntry
from domain.money import Money
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import (
    Amount,
    Currency,
    CustomerId,
    Description,
    Party,
    PaymentMethodToken,
    Reason,
)
from entrypoints.http.params import PAGE_SIZE_DEFAULT, Cursor, MinPosition, PageSize
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response
from entrypoints.settings import Settings

# A bound on the list the decoder accepts; the domain's limit (24) gives the stable code.
SCHEDULE_LENGTH_MAX = 100

OrderId = Annotated[UUID, PathParameter(description="The installment plan's (order's) id.")]
PlanStatusFilter = Annotated[
    Literal["PENDING", "ACTIVE", "COMPLETED", "DEFAULTED", "CANCELLED"] | None,
    QueryParameter(description="Only plans in this status."),
]
CustomerFilter = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=200,
        description="Only this customer's (admins and auditors; a customer sees their own).",
    ),
]


class ScheduleItemIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One installment of an explicit schedule: its date (with a time zone) and amount."""

    due_date: datetime
    amount: int


class InstallmentOrderCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A plan: `count` equal installments (the remainder on the last) from `first_due_date`
    (default: now) every `interval_days`, or an explicit `schedule` whose amounts add up to
    `amount`. It starts PENDING: activate it to have its installments charged."""

    amount: Amount
    currency: Currency | None = None  # default: PAYLEDGER_DEFAULT_CURRENCY
    customer_id: CustomerId | None = None  # default: the caller
    count: int | None = None
    schedule: Annotated[list[ScheduleItemIn], msgspec.Meta(max_length=SCHEDULE_LENGTH_MAX)] = []
    first_due_date: datetime | None = None
    interval_days: Annotated[int, msgspec.Meta(ge=1, le=INTERVAL_DAYS_MAX)] = 30
    recipient: Party = "merchant"
    payment_method: PaymentMethodToken | None = None
    description: Description = ""


class InstallmentOrderCancel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason = "cancelled"


class InstallmentController(ApiController):
    path = "/installments"
    tags = ["installments"]

    @post(
        "/orders",
        operation_id="CreateInstallmentOrder",
        summary=f"Create an installment plan (1 to {INSTALLMENTS_MAX} installments)",
        status_code=201,
        responses=problem_responses(403, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_order(
        self,
        data: JSONBody[InstallmentOrderCreate],
        principal: NamedDependency[Principal],
        installments: FromDishka[InstallmentService],
        settings: FromDishka[Settings],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InstallmentPlanOut]:
        currency = data.currency or settings.payments.default_currency
        total = Money.positive(data.amount, currency)
        request = PlanRequest(
            customer_id=data.customer_id or principal.subject,
            total=total,
            count=data.count if data.count is not None or data.schedule else 1,
            schedule=tuple(ScheduleEntry(i.due_date, i.amount) for i in data.schedule),
            first_due_at=data.first_due_date,
            interval=timedelta(days=data.interval_days),
            recipient=data.recipient,
            payment_method=data.payment_method or "",
            description=data.description,
        )
        written = await in_thread(installments.create_plan, principal, request, idempotency_key)
        return written_response(written, 201, f"/installments/orders/{written.value.id}")

    @get(
        "/orders",
        operation_id="ListInstallmentOrders",
        summary="Installment plans, newest first (a customer sees their own)",
        responses=problem_responses(503),
    )
    @inject
    async def list_orders(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[InstallmentQueries],
        customer_id: CustomerFilter = None,
        status: PlanStatusFilter = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> InstallmentPlanPage:
        return await in_thread(
            queries.plans, principal, customer_id, status, cursor, limit, min_position
        )

    @get(
        "/orders/{order_id:uuid}",
        operation_id="GetInstallmentOrder",
        summary="An installment plan and its installments (from the log)",
        responses=problem_responses(404),
    )
    @inject
    async def get_order(
        self,
        order_id: OrderId,
        principal: NamedDependency[Principal],
        installments: FromDishka[InstallmentService],
    ) -> InstallmentPlanOut:
        return await in_thread(installments.get_plan, principal, order_id)

    @get(
        "/orders/{order_id:uuid}/installments",
        operation_id="ListOrderInstallments",
        summary="A plan's installments: dates, amounts, statuses, attempts, payments",
        responses=problem_responses(404),
    )
    @inject
    async def list_order_installments(
        self,
        order_id: OrderId,
        principal: NamedDependency[Principal],
        installments: FromDishka[InstallmentService],
    ) -> InstallmentPage:
        return await in_thread(installments.list_installments, principal, order_id)

    @post(
        "/orders/{order_id:uuid}/activate",
        operation_id="ActivateInstallmentOrder",
        summary="Activate a PENDING plan: its installments are charged from their dates on",
        status_code=200,
        responses=problem_responses(404, 409),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def activate_order(
        self,
        order_id: OrderId,
        principal: NamedDependency[Principal],
        installments: FromDishka[InstallmentService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InstallmentPlanOut]:
        written = await in_thread(installments.activate_plan, principal, order_id, idempotency_key)
        return written_response(written, 200)

    @post(
        "/orders/{order_id:uuid}/cancel",
        operation_id="CancelInstallmentOrder",
        summary="Cancel a plan: no more charges; what was paid stays paid",
        status_code=200,
        responses=problem_responses(404, 409),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def cancel_order(
        self,
        order_id: OrderId,
        principal: NamedDependency[Principal],
        installments: FromDishka[InstallmentService],
        data: Annotated[InstallmentOrderCancel | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InstallmentPlanOut]:
        reason = data.reason if data is not None else "cancelled"
        written = await in_thread(
            installments.cancel_plan, principal, order_id, reason, idempotency_key
        )
        return written_response(written, 200)

    @get(
        "/due-installments",
        operation_id="ListDueInstallments",
        summary="Installments due now (on their date, or at a retry) on active plans",
        responses=problem_responses(503),
    )
    @inject
    async def due_installments(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[InstallmentQueries],
        customer_id: CustomerFilter = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> InstallmentPage:
        return await in_thread(queries.due, principal, customer_id, limit, min_position)
