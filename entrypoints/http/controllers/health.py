"""Liveness and readiness probes: public, outside the authenticated API."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get

from application.readiness import ReadinessProbe
from application.results import Readiness
from application.runner import CommandRunner
from entrypoints.http.problems import RETRY_AFTER_S, ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings


class Health(msgspec.Struct, frozen=True):
    status: str


METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="GetHealth", summary="Liveness: the process answers")
    async def health(self) -> Health:
        return Health("ok")  # no I/O on purpose: a slow database must not restart the API

    @get(
        "/ready",
        operation_id="GetReadiness",
        summary="Readiness: the event store answers and every read model keeps up",
        description="503 `not_ready` when the event store cannot be read or a read model "
        "lags further behind the log than allowed.",
        responses=problem_responses(503, validated=False),
    )
    @inject
    async def ready(
        self, probe: FromDishka[ReadinessProbe], settings: FromDishka[Settings]
    ) -> Readiness:
        readiness = await in_thread(probe.check)
        if readiness.ready:
            return readiness
        if readiness.database != "ok":
            detail = f"The event store is {readiness.database}."
        else:
            behind = max(readiness.views, key=lambda view: view.lag)
            detail = (
                f"The read model {behind.name} is {behind.lag} events behind the log "
                f"(at most {settings.http.ready_lag_max} allowed)."
            )
        raise ProblemError(503, "not_ready", detail, headers={"Retry-After": str(RETRY_AFTER_S)})

    @get(
        "/metrics",
        operation_id="GetMetrics",
        summary="Prometheus metrics of this process",
        description="Counters since this process started (optimistic-concurrency conflicts "
        "retried) and gauges of the log and read-model positions.",
        media_type=METRICS_CONTENT_TYPE,
    )
    @inject
    async def metrics(
        self, probe: FromDishka[ReadinessProbe], runner: FromDishka[CommandRunner]
    ) -> Response[str]:
        readiness = await in_thread(probe.check)
        lines = [
            "# HELP payledger_concurrency_conflicts_total Commands that hit an optimistic-"
            "concurrency conflict and were retried, in this process.",
            "# TYPE payledger_concurrency_conflicts_total counter",
            f"payledger_concurrency_conflicts_total {runner.conflicts}",
            "# HELP payledger_log_position Highest notification id in the event log.",
            "# TYPE payledger_log_position gauge",
            f"payledger_log_position {readiness.log_position or 0}",
            "# HELP payledger_view_position Last log position applied by the read model "
            "furthest behind.",
            "# TYPE payledger_view_position gauge",
            f"payledger_view_position {readiness.view_position or 0}",
            "# HELP payledger_view_lag Events the read model furthest behind is behind the log.",
            "# TYPE payledger_view_lag gauge",
            f"payledger_view_lag {readiness.view_lag}",
        ]
        return Response("\n".join(lines) + "\n", media_type=METRICS_CONTENT_TYPE)
