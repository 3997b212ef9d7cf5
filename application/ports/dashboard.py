"""Sources of the dashboard's optional panels, one port per feature.

Each feature that has figures for the dashboard (installment plans, outbound webhooks, the
relay to the message broker) implements its port and the composition root hands it to
`DashboardQueries`; a panel without a source shows "not available". A source answers with
one short read; it may raise, and the panel then says so instead of failing the page.
"""

from __future__ import annotations

from typing import Protocol

from application.results_dashboard import InstallmentsOverview, RelayLag, WebhookHealth


class InstallmentsSource(Protocol):
    def installments_overview(self) -> InstallmentsOverview:
        """Installment plans now."""
        ...


class WebhookHealthSource(Protocol):
    def webhook_health(self) -> WebhookHealth:
        """Outbound webhook deliveries now."""
        ...


class RelayLagSource(Protocol):
    def relay_lag(self) -> RelayLag:
        """The relay's position and lag now."""
        ...
