"""Transfers: wallet to wallet, atomically."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from application.principal import Principal
from application.results import Transaction
from application.wallets import WalletService
from entrypoints.http.auth import ApiController
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
        wallets: FromDishka[WalletService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            wallets.transfer,
            principal,
            data.from_customer_id,
            data.to_customer_id,
            data.amount,
            data.currency,
            data.description,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")
