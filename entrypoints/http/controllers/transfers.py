"""Transfers: wallet to wallet, atomically."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.ledger import Ledger
from application.results import Transaction
from entrypoints.http.auth import ApiController, Principal
from entrypoints.http.bodies import TransferCreate
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response


class TransferController(ApiController):
    path = "/transfers"
    tags = ["transfers"]

    @post(
        "/",
        operation_id="CreateTransfer",
        summary="Transfer between two wallets",
        status_code=201,
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_transfer(
        self,
        data: JSONBody[TransferCreate],
        principal: NamedDependency[Principal],
        ledger: FromDishka[Ledger],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            ledger.transfer,
            data.from_customer_id,
            data.to_customer_id,
            data.amount,
            data.currency,
            data.description,
            idempotency_key=idempotency_key,
            scope=principal.idempotency_scope,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")
