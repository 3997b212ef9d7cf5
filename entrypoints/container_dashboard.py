"""The dashboard's query, wired from the read models, the readiness probe and the clock,
with the sources of its optional panels: installments, webhook deliveries, and the relay's
lag when a NATS relay is configured (a panel without a source shows "not available")."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from application.dashboard import DashboardQueries, ReadinessRelayLag
from application.dashboard_sources import InstallmentsOverviewSource
from application.payment_queries import PaymentQueries
from application.ports.clock import Clock
from application.ports.installments import InstallmentsView
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.ports.webhooks import WebhookStore
from application.readiness import ReadinessProbe
from entrypoints.container_relay import RelayStatusSource


class DashboardProvider(Provider):
    scope = Scope.APP

    @provide
    def dashboard(
        self,
        payments: PaymentQueries,
        payments_view: PaymentsViewRecorder,
        ledger_view: LedgerViewRecorder,
        readiness: ReadinessProbe,
        clock: Clock,
        installments_view: InstallmentsView,
        relay: RelayStatusSource,
        webhooks: WebhookStore,
    ) -> DashboardQueries:
        return DashboardQueries(
            payments,
            payments_view,
            ledger_view,
            readiness,
            clock,
            installments=InstallmentsOverviewSource(installments_view, clock),
            webhooks=webhooks,
            relay=ReadinessRelayLag(relay.read) if relay.read is not None else None,
        )
