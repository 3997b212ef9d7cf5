"""Liveness and readiness probes: public, outside the authenticated API."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get

from application.queries import LedgerQueries
from application.results import Readiness
from entrypoints.http.problems import RETRY_AFTER_S, ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings


class Health(msgspec.Struct, frozen=True):
    status: str


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="GetHealth", summary="Liveness: the process answers")
    async def health(self) -> Health:
        return Health("ok")  # no I/O on purpose: a slow database must not restart the API

    @get(
        "/ready",
        operation_id="GetReadiness",
        summary="Readiness: the event store answers and the read model keeps up",
        description="503 `not_ready` when the event store cannot be read or the read model "
        "lags further behind the log than allowed.",
        responses=problem_responses(503, validated=False),
    )
    @inject
    async def ready(
        self, queries: FromDishka[LedgerQueries], settings: FromDishka[Settings]
    ) -> Readiness:
        readiness = await in_thread(queries.readiness, settings.ready_lag_max)
        if readiness.ready:
            return readiness
        if readiness.database != "ok":
            detail = f"The event store is {readiness.database}."
        else:
            detail = (
                f"The read model is {readiness.view_lag} events behind the log "
                f"(at most {settings.ready_lag_max} allowed)."
            )
        raise ProblemError(503, "not_ready", detail, headers={"Retry-After": str(RETRY_AFTER_S)})
