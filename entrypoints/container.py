"""The dishka container: providers grouped by layer. Nothing else builds adapters."""

from __future__ import annotations

from collections.abc import Iterator

from dishka import AsyncContainer, Provider, Scope, make_async_container, provide
from eventsourcing.persistence import TrackingRecorder

from application.charges import ChargeService
from application.gateway import PaymentGateway
from application.ledger import Ledger
from application.payment_projection import PaymentsViewRecorder
from application.payment_queries import PaymentQueries
from application.payments import PaymentService
from application.projection_runner import ProjectionRunner
from application.projections import LedgerViewRecorder
from application.queries import LedgerQueries
from entrypoints import bootstrap
from entrypoints.settings import Settings
from entrypoints.workers import BackgroundWorkers


def _close(resource: object) -> None:
    """Close a read model or tracker that holds connections (memory ones hold none)."""
    close = getattr(resource, "close", None)
    if close is not None:
        close()


class AdaptersProvider(Provider):
    """The event store and the read models on the configured backend."""

    scope = Scope.APP

    def __init__(self, settings: Settings, create_tables: bool = True) -> None:
        super().__init__()
        self._settings = settings
        self._create_tables = create_tables

    @provide
    def settings(self) -> Settings:
        return self._settings

    @provide
    def ledger(self, settings: Settings) -> Iterator[Ledger]:
        ledger = bootstrap.build_ledger(settings, create_table=self._create_tables)
        yield ledger
        ledger.close()

    @provide
    def view(self, settings: Settings) -> Iterator[LedgerViewRecorder]:
        view = bootstrap.build_view(settings, create_table=self._create_tables)
        yield view
        _close(view)

    @provide
    def gateway(self, settings: Settings) -> PaymentGateway:
        return bootstrap.build_gateway(settings)

    @provide
    def payments_view(self, settings: Settings) -> Iterator[PaymentsViewRecorder]:
        view = bootstrap.build_recorder(settings, "payments", create_table=self._create_tables)
        yield view
        _close(view)

    @provide
    def processor_tracker(self, settings: Settings) -> Iterator[TrackingRecorder]:
        tracker = bootstrap.build_processor_tracker(settings, create_table=self._create_tables)
        yield tracker
        _close(tracker)


class ApplicationProvider(Provider):
    """Use cases and queries."""

    scope = Scope.APP

    @provide
    def queries(
        self, ledger: Ledger, view: LedgerViewRecorder, settings: Settings
    ) -> LedgerQueries:
        return LedgerQueries(ledger, view, wait_timeout_s=settings.view_wait_timeout_s)

    @provide
    def projection_runner(self, ledger: Ledger, view: LedgerViewRecorder) -> ProjectionRunner:
        return bootstrap.build_runner(ledger, view)

    @provide
    def payment_service(
        self, ledger: Ledger, gateway: PaymentGateway, settings: Settings
    ) -> PaymentService:
        return PaymentService(ledger, gateway, bootstrap.payment_rules(settings))

    @provide
    def charge_service(self, ledger: Ledger, gateway: PaymentGateway) -> ChargeService:
        return ChargeService(ledger, gateway)

    @provide
    def payment_queries(
        self, service: PaymentService, view: PaymentsViewRecorder, settings: Settings
    ) -> PaymentQueries:
        return PaymentQueries(service, view, wait_timeout_s=settings.view_wait_timeout_s)

    @provide
    def workers(
        self,
        ledger: Ledger,
        ledger_runner: ProjectionRunner,
        payments_view: PaymentsViewRecorder,
        service: PaymentService,
        tracker: TrackingRecorder,
    ) -> BackgroundWorkers:
        return BackgroundWorkers(
            ledger_runner,
            bootstrap.build_payments_runner(ledger, payments_view),
            bootstrap.build_processor_runner(ledger, service, tracker, payments_view),
        )


def build_container(
    settings: Settings, *extra: Provider, create_tables: bool = True
) -> AsyncContainer:
    """The production container; tests pass extra providers (declared override=True)."""
    return make_async_container(
        AdaptersProvider(settings, create_tables), ApplicationProvider(), *extra
    )
