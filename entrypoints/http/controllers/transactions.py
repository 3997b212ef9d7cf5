"""Journal transactions: read one with its postings."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from application.principal import Principal
from application.results import Transaction
from application.wallets import WalletService
from entrypoints.http.auth import ApiController
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import in_thread

TransactionId = Annotated[UUID, PathParameter(description="The transaction's id.")]


class TransactionController(ApiController):
    path = "/transactions"
    tags = ["transactions"]

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
