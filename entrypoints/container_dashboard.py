"""The dashboard's query, wired from the read models, the readiness probe and the clock.

The optional panels (installments, webhook deliveries, relay lag) take their source here:
a feature that has one passes it to `DashboardQueries` (see `application/ports/dashboard.py`);
until then the page shows those panels as "not available".
"""

from __future__ import annotations

from dishka import Provider, Scope, provide

from application.dashboard import DashboardQueries
from application.payment_queries import PaymentQueries
from application.ports.clock import Clock
from application.ports.views import LedgerViewRecorder, PaymentsViewRecorder
from application.readiness import ReadinessProbe


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
    ) -> DashboardQueries:
        return DashboardQueries(payments, payments_view, ledger_view, readiness, clock)
