"""The dishka container: providers grouped by layer. Nothing else builds adapters."""

from __future__ import annotations

from collections.abc import Iterator

from dishka import AsyncContainer, Provider, Scope, make_async_container, provide

from application.ledger import Ledger
from application.projection_runner import ProjectionRunner
from application.projections import LedgerViewRecorder
from application.queries import LedgerQueries
from entrypoints import bootstrap
from entrypoints.settings import Settings


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
        close = getattr(view, "close", None)
        if close is not None:
            close()


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


def build_container(
    settings: Settings, *extra: Provider, create_tables: bool = True
) -> AsyncContainer:
    """The production container; tests pass extra providers (declared override=True)."""
    return make_async_container(
        AdaptersProvider(settings, create_tables), ApplicationProvider(), *extra
    )
