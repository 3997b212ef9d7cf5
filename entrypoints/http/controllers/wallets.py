"""Wallets: open, read, statement, credit and debit."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from application.principal import Principal
from application.queries import LedgerQueries
from application.results import CustomerWallets, Statement, Transaction, Wallet
from application.view_positions import LEDGER_VIEW, ViewPositions
from application.wallets import WalletService
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import CreditCreate, DebitCreate, WalletCreate
from entrypoints.http.params import (
    PAGE_SIZE_DEFAULT,
    Cursor,
    CustomerIdPath,
    MinPosition,
    PageSize,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.view_waits import wait_for_view
from entrypoints.http.writes import (
    WRITE_HEADERS,
    IdempotencyKey,
    in_thread,
    written_response,
)

CurrencyQuery = Annotated[str, QueryParameter(description="ISO 4217 code, e.g. `USD`.")]
OptionalCurrencyQuery = Annotated[
    str | None,
    QueryParameter(
        description="Read this one wallet straight from the event store (strongly consistent); "
        "without it, all the customer's wallets from the read model.",
    ),
]


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
        summary="A customer's wallets",
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
        currency: OptionalCurrencyQuery = None,
        min_position: MinPosition = None,
    ) -> CustomerWallets:
        if currency is not None:
            wallet = await in_thread(wallets.get_wallet, principal, customer_id, currency)
            return CustomerWallets(customer_id, [wallet])
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
        currency: CurrencyQuery,
        principal: NamedDependency[Principal],
        queries: FromDishka[LedgerQueries],
        positions: FromDishka[ViewPositions],
        cursor: Cursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> Statement:
        await wait_for_view(positions, LEDGER_VIEW, min_position)
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
