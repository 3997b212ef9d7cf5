"""The payments summary (seed 001): counts by outcome and failure reason, amounts per currency."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka, inject
from litestar import get
from litestar.di import NamedDependency

from application.payment_queries import PaymentQueries
from application.principal import Principal
from application.results import Summary
from application.view_positions import PAYMENTS_VIEW, ViewPositions
from entrypoints.http.auth import ApiController
from entrypoints.http.params import MinPosition
from entrypoints.http.problems import problem_responses
from entrypoints.http.view_waits import wait_for_writes
from entrypoints.http.writes import in_thread


class SummaryController(ApiController):
    path = "/summary"
    tags = ["payments"]

    @get(
        "/",
        operation_id="GetSummary",
        summary="Payments by outcome, failure reasons, and amounts per currency",
        responses=problem_responses(503),
    )
    @inject
    async def get_summary(
        self,
        principal: NamedDependency[Principal],
        queries: FromDishka[PaymentQueries],
        positions: FromDishka[ViewPositions],
        min_position: MinPosition = None,
    ) -> Summary:
        await wait_for_writes(positions, PAYMENTS_VIEW, min_position)
        return await in_thread(queries.summary, principal)
