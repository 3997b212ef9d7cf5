"""Liveness and readiness probes: public, outside the authenticated API."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get

from adapters.metrics.prometheus import CONTENT_TYPE, FollowerState, PrometheusMetrics, Snapshot
from application.ports.views import PaymentsView, PaymentsViewRecorder
from application.projection_runner import STORE_ERRORS
from application.readiness import ReadinessProbe
from application.results import Readiness
from application.runner import CommandRunner
from entrypoints.http.problems import RETRY_AFTER_S, ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings
from entrypoints.workers import BackgroundWorkers


class Health(msgspec.Struct, frozen=True):
    status: str


METRICS_CONTENT_TYPE = CONTENT_TYPE


class HealthController(Controller):
    path = "/"
    tags = ["health"]

    @get("/health", operation_id="GetHealth", summary="Liveness: the process answers")
    async def health(self) -> Health:
        return Health("ok")  # no I/O on purpose: a slow database must not restart the API

    @get(
        "/ready",
        operation_id="GetReadiness",
        summary="Readiness: the event store answers and every follower of the log keeps up",
        description="503 `not_ready` when the event store cannot be read (within 1.5 s), a "
        "follower of the log (a read model, the payment processor) is stuck on an event it "
        "cannot apply, or one lags further behind the log than allowed.",
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
        elif readiness.failures:
            detail = " ".join(
                f"{stuck.name} cannot apply the event at position {stuck.position} "
                f"({stuck.event_type}): {stuck.error}."
                for stuck in readiness.failures
            )
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
        description="HTTP requests by route (count, latency), gateway calls, payments settled "
        "and their lag, optimistic-concurrency conflicts retried, projection failures; "
        "gauges of the log position, each follower's position and lag, payments by status.",
        media_type=METRICS_CONTENT_TYPE,
    )
    @inject
    async def metrics(
        self,
        probe: FromDishka[ReadinessProbe],
        runner: FromDishka[CommandRunner],
        workers: FromDishka[BackgroundWorkers],
        payments: FromDishka[PaymentsViewRecorder],
        prometheus: FromDishka[PrometheusMetrics],
    ) -> Response[bytes]:
        snapshot = await in_thread(scrape, probe, runner, workers, payments)
        text = await in_thread(prometheus.render, snapshot)
        return Response(text, media_type=METRICS_CONTENT_TYPE)


def scrape(
    probe: ReadinessProbe,
    runner: CommandRunner,
    workers: BackgroundWorkers,
    payments: PaymentsView,
) -> Snapshot:
    """What /metrics reads when scraped (blocking: run it in a thread)."""
    readiness = probe.check()
    failing = {failure.name for failure in readiness.failures}
    totals = workers.failures_total()
    followers = [
        FollowerState(
            view.name, view.position, view.lag, view.name in failing, totals.get(view.name, 0)
        )
        for view in readiness.views
    ]
    by_status: dict[str, int] | None = None
    if readiness.database == "ok":
        try:
            by_status = payments.summary().by_status
        except STORE_ERRORS:  # the database went away meanwhile: report what we have
            by_status = None
    return Snapshot(
        ready=readiness.ready,
        log_position=readiness.log_position,
        followers=followers,
        conflicts_total=runner.conflicts,
        payments_by_status=by_status,
        relay=readiness.relay if readiness.database == "ok" else None,
    )
