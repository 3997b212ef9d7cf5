"""Balances of every account: wallets and system accounts, from the read model."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka, inject
from litestar import get
from litestar.di import NamedDependency

from application.principal import Principal
from application.queries import LedgerQueries
from application.results import BalancePage
from application.view_positions import LEDGER_VIEW, ViewPositions
from entrypoints.http.auth import ApiController
from entrypoints.http.params import PAGE_SIZE_DEFAULT, AccountCursor, MinPosition, PageSize
from entrypoints.http.problems import problem_responses
from entrypoints.http.view_waits import wait_for_writes
from entrypoints.http.writes import in_thread


class BalanceController(ApiController):
    path = "/balances"
    tags = ["balances"]

    @get(
        "/",
        operation_id="ListBalances",
        summary="Every account's balance, a page at a time (in account id order)",
        responses=problem_responses(503),
    )
    @inject
    async def list_balances(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[LedgerQueries],
        positions: FromDishka[ViewPositions],
        cursor: AccountCursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
        min_position: MinPosition = None,
    ) -> BalancePage:
        await wait_for_writes(positions, LEDGER_VIEW, min_position)
        return await in_thread(queries.balances, principal, cursor, limit)
