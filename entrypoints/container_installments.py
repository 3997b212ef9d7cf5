"""The composition of installment plans (part of the composition root): the read model, the
scheduler's tracker, the use cases and queries, and the two followers of the log (the
projection and the scheduler) that the workers run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NewType

from dishka import Provider, Scope, provide

from adapters.views.factory import open_tracker
from adapters.views.installments_view import SqlInstallmentsView
from application.installment_queries import InstallmentQueries
from application.installment_scheduler import InstallmentScheduler, SchedulerTracker
from application.installments import InstallmentService
from application.installments_projection import InstallmentsProjection
from application.ledger import Ledger
from application.ports.clock import Clock
from application.ports.installments import InstallmentsView
from application.ports.new_events import NewEvents
from application.projection_runner import ProjectionRunner
from application.runner import CommandRunner
from application.settlement import PaymentSettlement
from domain.installment_plan import RetryPolicy
from entrypoints.settings import Settings
from entrypoints.views_database import views_database

# The followers of the log that this part adds to the workers.
InstallmentRunners = NewType("InstallmentRunners", tuple[ProjectionRunner, ...])


class InstallmentsProvider(Provider):
    """Installment plans: read model, use cases, queries, projection and scheduler."""

    scope = Scope.APP

    def __init__(self, create_tables: bool) -> None:
        super().__init__()
        self._create_tables = create_tables

    def _create(self, settings: Settings) -> bool:
        return self._create_tables or settings.database.backend == "memory"

    @provide
    def view(self, settings: Settings) -> Iterator[InstallmentsView]:
        view = SqlInstallmentsView(views_database(settings), Ledger.name)
        if self._create(settings):
            view.create_table()
        yield view
        view.close()

    @provide
    def scheduler_tracker(self, settings: Settings) -> Iterator[SchedulerTracker]:
        tracker = open_tracker(
            views_database(settings),
            "installment_scheduler_tracking",
            create_table=self._create(settings),
        )
        yield SchedulerTracker(tracker)
        tracker.close()

    @provide
    def service(
        self, runner: CommandRunner, settlement: PaymentSettlement, settings: Settings
    ) -> InstallmentService:
        config = settings.installments
        policy = RetryPolicy(config.attempts_max, config.backoff_s, config.backoff_max_s)
        return InstallmentService(runner, settlement, policy)

    @provide
    def queries(
        self, view: InstallmentsView, ledger: Ledger, clock: Clock, settings: Settings
    ) -> InstallmentQueries:
        return InstallmentQueries(
            view, ledger.log_position, clock, wait_timeout_s=settings.http.view_wait_timeout_s
        )

    @provide
    def runners(
        self,
        ledger: Ledger,
        view: InstallmentsView,
        tracker: SchedulerTracker,
        service: InstallmentService,
        clock: Clock,
        new_events: NewEvents,
        settings: Settings,
    ) -> InstallmentRunners:
        scheduler = InstallmentScheduler(
            tracker, service, view, clock, settings.installments.scan_interval_s
        )
        return InstallmentRunners(
            (
                ProjectionRunner(
                    ledger, InstallmentsProjection(view, ledger), new_events=new_events
                ),
                ProjectionRunner(
                    ledger, scheduler, on_idle=scheduler.maybe_charge_due, new_events=new_events
                ),
            )
        )
