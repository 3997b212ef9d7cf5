"""Transactions (seed 004): your history across your wallets, one journal transaction with
its postings, a transfer from your wallet, and status updates of what stands behind a
transaction (posted transactions themselves never change)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.principal import Principal
from application.queries import LedgerQueries
from application.results import History, Transaction
from application.transactions import StatusChanged, TransactionService
from application.view_positions import LEDGER_VIEW, ViewPositions
from application.wallets import WalletService
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import TransactionCreate, TransactionStatusUpdate
from entrypoints.http.params import Cursor, HistoryOf, MinPosition, PageSize
from entrypoints.http.problems import problem_responses
from entrypoints.http.view_waits import wait_for_writes
from entrypoints.http.writes import WRITE_HEADERS, IdempotencyKey, in_thread, written_response

TransactionId = Annotated[UUID, PathParameter(description="The transaction's id.")]
HISTORY_PAGE_DEFAULT = 50


class TransactionController(ApiController):
    path = "/transactions"
    tags = ["transactions"]

    @get(
        "/",
        operation_id="ListTransactions",
        summary="Your transaction history: postings on your wallets, newest first",
        responses=problem_responses(400, 404, 422, 503),
    )
    @inject
    async def list_transactions(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[LedgerQueries],
        positions: FromDishka[ViewPositions],
        customer_id: HistoryOf = None,
        cursor: Cursor = None,
        limit: PageSize = HISTORY_PAGE_DEFAULT,
        min_position: MinPosition = None,
    ) -> History:
        await wait_for_writes(positions, LEDGER_VIEW, min_position)
        return await in_thread(
            queries.history, principal, customer_id=customer_id, cursor=cursor, limit=limit
        )

    @post(
        "/",
        operation_id="CreateTransaction",
        summary="Send money from your wallet to another customer's (a transfer)",
        status_code=201,
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def create_transaction(
        self,
        data: JSONBody[TransactionCreate],
        principal: NamedDependency[Principal],
        transactions: FromDishka[TransactionService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            transactions.send,
            principal,
            data.to_customer_id,
            data.amount,
            data.currency,
            data.description,
            data.from_customer_id,
            idempotency_key,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")

    @get(
        "/{transaction_id:uuid}",
        operation_id="GetTransaction",
        summary="A journal transaction",
        responses=problem_responses(404),
    )
    @inject
    async def get_transaction(
        self,
        transaction_id: TransactionId,
        principal: NamedDependency[Principal],
        wallets: FromDishka[WalletService],
    ) -> Transaction:
        return await in_thread(wallets.get_transaction, principal, transaction_id)

    @put(
        "/{transaction_id:uuid}",
        operation_id="UpdateTransactionStatus",
        summary="Capture or void the hold, or refund the payment, behind a transaction",
        responses=problem_responses(403, 404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def update_transaction_status(
        self,
        transaction_id: TransactionId,
        data: JSONBody[TransactionStatusUpdate],
        principal: NamedDependency[Principal],
        transactions: FromDishka[TransactionService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[StatusChanged]:
        written = await in_thread(
            transactions.change_status,
            principal,
            transaction_id,
            data.status,
            data.amount,
            idempotency_key,
        )
        return written_response(written, 200)
