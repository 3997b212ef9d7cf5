"""Payments (seed 001): create, read, list, retry and refund.

A payment is created CREATED (then processed asynchronously) or, when the request breaks a
payment rule, recorded FAILED with the reason; either way the answer is 201. `?wait=true`
trades latency for convenience: the handler polls the payment (bounded) until processing
has settled it. Single payments are read from the log (strongly consistent); the list comes
from the payments read model (pass `min_position` to read your own write).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import JSONBody

from application.log_head import LogHead
from application.payment_queries import PaymentQueries
from application.payments import PaymentRequest, PaymentService
from application.ports.gateway import Card
from application.principal import Principal
from application.refunds import RefundService
from application.registrations import RegistrationService
from application.results import Payment, PaymentPage, Written
from application.view_positions import PAYMENTS_VIEW, ViewPositions
from domain.payment_terms import UNSETTLED, PaymentMethod
from domain.splits import Split
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import PaymentCreate, RefundCreate
from entrypoints.http.params import (
    PAGE_SIZE_DEFAULT,
    WAIT_TIMEOUT_S_DEFAULT,
    CreatedFrom,
    CreatedTo,
    Cursor,
    MinPosition,
    PageSize,
    PayerId,
    PaymentId,
    PaymentStatus,
    Wait,
    WaitTimeout,
    parse_instant,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.reads import read_current
from entrypoints.http.view_waits import wait_for_writes
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response

WAIT_POLL_INTERVAL_S = 0.02
FULL_REFUND = RefundCreate()  # no body (or `{}`): all that is left, as seed 001 refunds


@dataclass
class OptionalBodyOperation(Operation):
    """An operation whose request body may be left out (Litestar marks every body
    required)."""

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


def payment_request(data: PaymentCreate) -> PaymentRequest:
    """The application's request from the HTTP body (the card stays in memory only)."""
    if data.amount is None or data.currency is None or data.recipient is None:
        raise ValueError("checked by PaymentCreate")  # pragma: no cover
    card = None
    if data.card is not None:
        card = Card(data.card.number, data.card.exp_month, data.card.exp_year, data.card.cvc)
    return PaymentRequest(
        payer_id=data.payer_id,
        recipient=data.recipient,
        amount_minor=data.amount,
        currency=data.currency,
        method=PaymentMethod(data.method),
        description=data.description,
        splits=tuple(Split(s.payee, s.bps, s.amount) for s in data.splits),
        card=card,
        payment_method=data.payment_method,
    )


def pay_registration(
    registrations: RegistrationService,
    payments: PaymentService,
    caller: Principal,
    data: PaymentCreate,
    idempotency_key: str | None,
) -> Written[Payment]:
    """Seed 000's body: pay a registration by card (the trip's price); answers with the
    payment it made."""
    if data.registration_id is None or data.card_number is None or data.expiry_date is None:
        raise ValueError("checked by PaymentCreate")  # pragma: no cover
    month, _, year = data.expiry_date.partition("/")
    card = Card(data.card_number, int(month), 2000 + int(year), data.cvv or "")
    paid = registrations.pay(caller, data.registration_id, card, idempotency_key)
    if paid.value.payment_id is None:  # pragma: no cover - paying always attaches one
        raise ValueError("a paid registration names its payment")
    payment = payments.get_payment(caller, paid.value.payment_id)
    return Written(payment, paid.position, paid.replayed)


async def settled(
    service: PaymentService, caller: Principal, payment: Payment, timeout_s: float
) -> Payment:
    """The payment once it has left CREATED and PROCESSING, or as it is after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    # A limit on the loop as well as on the time: one poll per interval, no more.
    for _ in range(int(timeout_s / WAIT_POLL_INTERVAL_S) + 1):
        if payment.status not in UNSETTLED or time.monotonic() >= deadline:
            break
        await asyncio.sleep(WAIT_POLL_INTERVAL_S)
        payment = await in_thread(service.get_payment, caller, payment.id)
    return payment


class PaymentController(ApiController):
    path = "/payments"
    tags = ["payments"]

    @post(
        "/",
        operation_id="CreatePayment",
        summary="Create a payment (recorded FAILED with a reason if it breaks a rule)",
        status_code=201,
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_payment(
        self,
        data: JSONBody[PaymentCreate],
        principal: NamedDependency[Principal],
        service: FromDishka[PaymentService],
        registrations: FromDishka[RegistrationService],
        idempotency_key: IdempotencyKey = None,
        wait: Wait = False,
        wait_timeout_s: WaitTimeout = WAIT_TIMEOUT_S_DEFAULT,
    ) -> Response[Payment]:
        if data.registration_id is not None:
            written = await in_thread(
                pay_registration, registrations, service, principal, data, idempotency_key
            )
        else:
            written = await in_thread(
                service.create_payment, principal, payment_request(data), idempotency_key
            )
        if wait:
            latest = await settled(service, principal, written.value, wait_timeout_s)
            written = Written(latest, written.position, written.replayed)
        return written_response(written, 201, f"/payments/{written.value.id}")

    @get(
        "/",
        operation_id="ListPayments",
        summary="Payments, newest first, filtered and paginated",
        responses=problem_responses(503),
    )
    @inject
    async def list_payments(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PaymentQueries],
        positions: FromDishka[ViewPositions],
        status: PaymentStatus = None,
        payer_id: PayerId = None,
        created_from: CreatedFrom = None,
        created_to: CreatedTo = None,
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> PaymentPage:
        await wait_for_writes(positions, PAYMENTS_VIEW, min_position)
        return await in_thread(
            queries.list,
            principal,
            status=status,
            payer_id=payer_id,
            created_from=parse_instant("created_from", created_from),
            created_to=parse_instant("created_to", created_to),
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/{payment_id:uuid}",
        operation_id="GetPayment",
        summary="A payment and its history (strongly consistent)",
        responses=problem_responses(404),
    )
    @inject
    async def get_payment(
        self,
        payment_id: PaymentId,
        principal: NamedDependency[Principal],
        service: FromDishka[PaymentService],
        head: FromDishka[LogHead],
    ) -> Payment:
        return await read_current(head, service.get_payment, principal, payment_id)

    @post(
        "/{payment_id:uuid}/retry",
        operation_id="RetryPayment",
        summary="Retry a payment that failed for a transient reason",
        status_code=200,
        responses=problem_responses(404, 409),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def retry_payment(
        self,
        payment_id: PaymentId,
        principal: NamedDependency[Principal],
        service: FromDishka[PaymentService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Payment]:
        written = await in_thread(service.retry_payment, principal, payment_id, idempotency_key)
        return written_response(written, 200)

    @post(
        "/{payment_id:uuid}/refund",
        operation_id="RefundPayment",
        summary="Refund all that is left of a payment (no body, or `{}`), or part of it",
        status_code=201,
        responses=problem_responses(404, 409, 413, 415, 502),
        response_headers=WRITE_HEADERS,
        operation_class=OptionalBodyOperation,
    )
    @inject
    async def refund_payment(
        self,
        payment_id: PaymentId,
        principal: NamedDependency[Principal],
        refunds: FromDishka[RefundService],
        idempotency_key: IdempotencyKey = None,
        data: JSONBody[RefundCreate] = FULL_REFUND,
    ) -> Response[Payment]:
        written = await in_thread(
            refunds.refund_payment,
            principal,
            payment_id,
            data.amount,
            data.reason,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201)
