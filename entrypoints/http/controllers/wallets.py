"""Wallets: open, read, statement, credit and debit.

`GET /wallets/{customer_id}` answers with one wallet when asked for a currency, else with
all the customer's wallets; both straight from the log (strongly consistent). The statement
comes from the read model (pass `min_position` to read a write there).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from application.log_head import LogHead
from application.principal import Principal
from application.queries import LedgerQueries
from application.results import CustomerWallets, Statement, Transaction, Wallet
from application.view_positions import LEDGER_VIEW, ViewPositions
from application.wallets import WalletService
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import CURRENCY_PATTERN, CreditCreate, DebitCreate, WalletCreate
from entrypoints.http.params import (
    PAGE_SIZE_DEFAULT,
    CustomerIdPath,
    MinPosition,
    PageSize,
    SequenceCursor,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.reads import read_current
from entrypoints.http.view_waits import wait_for_view, wait_for_writes
from entrypoints.http.writes import (
    WRITE_HEADERS,
    IdempotencyKey,
    in_thread,
    written_response,
)

OptionalCurrencyQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=CURRENCY_PATTERN,
        description="Answer with this one wallet (a `Wallet`); without it, with all the "
        "customer's wallets (`CustomerWallets`). Both are read from the event store "
        "(strongly consistent).",
    ),
]
StatementCurrency = Annotated[
    str | None,
    QueryParameter(
        pattern=CURRENCY_PATTERN,
        description="ISO 4217 code of the wallet; none: `PAYLEDGER_DEFAULT_CURRENCY` (USD "
        "unless configured), seed 003's one wallet.",
    ),
]
WALLETS_RESPONSE = (
    "With `currency`: that one wallet (`Wallet`). Without: every wallet of the customer "
    "(`CustomerWallets`). Both strongly consistent: read from the event store."
)


def wallet_location(customer_id: str, currency: str) -> str:
    return f"/wallets/{quote(customer_id, safe='')}?{urlencode({'currency': currency})}"


class WalletController(ApiController):
    path = "/wallets"
    tags = ["wallets"]

    @post(
        "/",
        operation_id="OpenWallet",
        summary="Open a wallet",
        status_code=201,
        responses=problem_responses(409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def open_wallet(
        self,
        data: JSONBody[WalletCreate],
        principal: NamedDependency[Principal],
        wallets: FromDishka[WalletService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Wallet]:
        written = await in_thread(
            wallets.open_wallet,
            principal,
            data.customer_id,
            data.currency,
            data.overdraft_limit,
            idempotency_key=idempotency_key,
        )
        location = wallet_location(written.value.customer_id, written.value.currency)
        return written_response(written, 201, location)

    @get(
        "/{customer_id:str}",
        operation_id="GetWallets",
        summary="One wallet of a customer (`?currency=`), or all of them",
        response_description=WALLETS_RESPONSE,
        responses=problem_responses(404, 503),
    )
    @inject
    async def get_wallets(
        self,
        customer_id: CustomerIdPath,
        principal: NamedDependency[Principal],
        wallets: FromDishka[WalletService],
        queries: FromDishka[LedgerQueries],
        positions: FromDishka[ViewPositions],
        head: FromDishka[LogHead],
        currency: OptionalCurrencyQuery = None,
        min_position: MinPosition = None,
    ) -> Wallet | CustomerWallets:
        if currency is not None:
            return await read_current(head, wallets.get_wallet, principal, customer_id, currency)
        # Read from the log (the customer's wallet directory): no need to wait for the view.
        await wait_for_view(positions, LEDGER_VIEW, min_position)
        return await in_thread(queries.wallets_of, principal, customer_id)

    @get(
        "/{customer_id:str}/ledger",
        operation_id="GetStatement",
        summary="A wallet's statement, newest first",
        responses=problem_responses(404, 503),
    )
    @inject
    async def get_statement(
        self,
        customer_id: CustomerIdPath,
        principal: NamedDependency[Principal],
        queries: FromDishka[LedgerQueries],
        positions: FromDishka[ViewPositions],
        currency: StatementCurrency = None,
        cursor: SequenceCursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> Statement:
        await wait_for_writes(positions, LEDGER_VIEW, min_position)
        return await in_thread(queries.statement, principal, customer_id, currency, cursor, limit)

    @post(
        "/{customer_id:str}/credit",
        operation_id="CreditWallet",
        status_code=201,
        summary="Credit a wallet from outside the ledger",
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def credit_wallet(
        self,
        customer_id: CustomerIdPath,
        data: JSONBody[CreditCreate],
        principal: NamedDependency[Principal],
        wallets: FromDishka[WalletService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            wallets.credit_wallet,
            principal,
            customer_id,
            data.amount,
            data.currency,
            data.description,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")

    @post(
        "/{customer_id:str}/debit",
        operation_id="DebitWallet",
        status_code=201,
        summary="Pay money out of a wallet",
        responses=problem_responses(404, 409, 413, 415),
        response_headers=WRITE_HEADERS,
    )
    @inject
    async def debit_wallet(
        self,
        customer_id: CustomerIdPath,
        data: JSONBody[DebitCreate],
        principal: NamedDependency[Principal],
        wallets: FromDishka[WalletService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Transaction]:
        written = await in_thread(
            wallets.debit_wallet,
            principal,
            customer_id,
            data.amount,
            data.currency,
            data.description,
            idempotency_key=idempotency_key,
        )
        return written_response(written, 201, f"/transactions/{written.value.id}")
