"""The read models by name, for `payledger projections rebuild NAME` and `bench/`.

Each name resolves, from the container, the view and a runner of its projection over the
ledger's log; `rebuild` empties the view and catches it up from the start of the log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dishka import Container
from eventsourcing.projection import Projection

from application.installments_projection import InstallmentsProjection
from application.ledger import Ledger
from application.payment_projection import PaymentsProjection
from application.ports.installments import InstallmentsView
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder, TrackedView
from application.projection_runner import ProjectionRunner
from application.projections import LedgerProjection

PROJECTIONS = ("ledger", "payments", "installments")
# Events per batch for the ledger and payments views. They write a batch in a few
# multi-row statements, so past a few hundred events a batch costs mostly its commit (a
# flush of the write-ahead log): 2,000 events a commit instead of 500 took a rebuild of
# either view from about 20,000 to about 30,000 events/s here. Other followers keep the
# runner's default, as they do work per event.
VIEW_BATCH_SIZE = 2_000


def projection_runner(container: Container, name: str) -> tuple[TrackedView, ProjectionRunner]:
    """The view `name` and a runner feeding it from the log."""
    ledger = container.get(Ledger)
    if name == "ledger":
        ledger_view = container.get(LedgerViewRecorder)
        projection: Projection[Any] = LedgerProjection(view=ledger_view)
        return ledger_view, ProjectionRunner(ledger, projection, batch_size=VIEW_BATCH_SIZE)
    if name == "payments":
        payments_view = container.get(PaymentsViewRecorder)
        projection = PaymentsProjection(view=payments_view)
        return payments_view, ProjectionRunner(ledger, projection, batch_size=VIEW_BATCH_SIZE)
    if name == "installments":
        installments_view = container.get(InstallmentsView)
        projection = InstallmentsProjection(installments_view, ledger)
        return installments_view, ProjectionRunner(ledger, projection)
    raise ValueError(f"unknown projection {name!r}; use one of {', '.join(PROJECTIONS)}")


def rebuild(
    view: TrackedView, runner: ProjectionRunner, on_progress: Callable[[int], None] | None = None
) -> int:
    """Empty the view and apply the whole log to it again; returns the events applied."""
    view.reset()
    return runner.catch_up(on_progress=on_progress)
