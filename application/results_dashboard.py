"""What the dashboard shows: one snapshot of the service's figures, as small structs.

Panels whose feature has no source in this process (installments, webhook deliveries, the
relay) are None in the snapshot: the page says "not available" for them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from application.results import PaymentRow, Readiness, Summary


class OutcomeBucket(msgspec.Struct, frozen=True):
    """Payments created in `[start, end)`: how many succeeded (refunded ones included: they
    were paid), failed, or are still unsettled."""

    start: datetime
    end: datetime
    succeeded: int
    failed: int
    unsettled: int

    @property
    def settled(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Succeeded / settled, None when nothing settled in the bucket."""
        return self.succeeded / self.settled if self.settled else None


class WalletTotals(msgspec.Struct, frozen=True):
    """Customer wallets of one currency: how many, their balances and held amounts summed."""

    currency: str
    wallets: int
    balance: int
    held: int


class InstallmentsOverview(msgspec.Struct, frozen=True):
    """Installment plans: how many, by status, what is still owed per currency, and how
    many installments are overdue."""

    plans: int
    by_status: dict[str, int]
    outstanding: dict[str, int]
    overdue: int


class WebhookHealth(msgspec.Struct, frozen=True):
    """Outbound webhook deliveries: endpoints, deliveries by outcome, and the last error."""

    endpoints: int
    delivered: int
    pending: int
    failed: int
    last_error: str | None = None


class RelayLag(msgspec.Struct, frozen=True):
    """How far the relay (log -> message broker) is behind the log."""

    position: int | None
    lag_events: int
    lag_s: float | None = None


class DashboardSnapshot(msgspec.Struct, frozen=True):
    """Everything the dashboard shows, read at `generated_at`; `log_position` is the log's
    end then (the live page uses it to tell a new snapshot from an old one)."""

    generated_at: datetime
    window: str
    summary: Summary
    outcomes: list[OutcomeBucket]
    recent: list[PaymentRow]
    wallets: list[WalletTotals]
    readiness: Readiness
    installments: InstallmentsOverview | None = None
    webhooks: WebhookHealth | None = None
    relay: RelayLag | None = None

    @property
    def log_position(self) -> int:
        return self.readiness.log_position or 0
