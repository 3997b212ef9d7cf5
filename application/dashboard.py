"""The dashboard's query: one snapshot of what operators watch (admins only).

It reads the read models (payments summary, outcomes over time, recent payments, wallet
totals), the readiness probe (the log and every follower's lag) and, where the composition
root gives one, each optional feature's source (`application/ports/dashboard.py`). A source
that fails leaves its panel empty ("not available") rather than failing the page.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from application.payment_queries import PaymentQueries
from application.ports.clock import Clock
from application.ports.dashboard import InstallmentsSource, RelayLagSource, WebhookHealthSource
from application.ports.views import LedgerView, PaymentsView
from application.principal import Principal
from application.readiness import ReadinessProbe
from application.results import RelayStatus
from application.results_dashboard import DashboardSnapshot, OutcomeBucket, RelayLag
from domain.payment_terms import UNSETTLED, PaymentStatus

log = logging.getLogger(__name__)

T = TypeVar("T")

RECENT_PAYMENTS = 10
# The time windows of "success rate over time": name -> (bucket length, number of buckets).
WINDOWS: Mapping[str, tuple[timedelta, int]] = {
    "1h": (timedelta(minutes=5), 12),
    "24h": (timedelta(hours=1), 24),
    "7d": (timedelta(hours=6), 28),
}
DEFAULT_WINDOW = "24h"
FAILED = frozenset({PaymentStatus.FAILED})


def bucket_bounds(now: datetime, window: str) -> list[datetime]:
    """The `n + 1` bounds of the window's buckets, the last bucket holding `now`: aligned on
    multiples of the bucket length (since the epoch), so a bucket keeps its bounds between
    two reads."""
    length, count = WINDOWS[window]
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    periods = (now - epoch) // length
    end = epoch + (periods + 1) * length
    return [end - (count - i) * length for i in range(count + 1)]


def outcome_buckets(bounds: list[datetime], counts: list[dict[str, int]]) -> list[OutcomeBucket]:
    """Status counts per interval, folded into succeeded / failed / unsettled."""
    buckets = []
    for (start, end), by_status in zip(itertools.pairwise(bounds), counts, strict=True):
        failed = sum(n for status, n in by_status.items() if status in FAILED)
        unsettled = sum(n for status, n in by_status.items() if status in UNSETTLED)
        succeeded = sum(by_status.values()) - failed - unsettled
        buckets.append(OutcomeBucket(start, end, succeeded, failed, unsettled))
    return buckets


class ReadinessRelayLag:
    """A `RelayLagSource` from the relay's status as readiness reports it (position, events
    behind the log, seconds since the oldest unpublished event)."""

    def __init__(self, status: Callable[[], RelayStatus]) -> None:
        self.status = status

    def relay_lag(self) -> RelayLag:
        relay = self.status()
        if relay.status == "off":
            raise LookupError(relay.destination)
        return RelayLag(relay.position, relay.lag, relay.lag_s)


class DashboardQueries:
    """One snapshot of the dashboard's figures for an admin."""

    def __init__(
        self,
        payments: PaymentQueries,
        payments_view: PaymentsView,
        ledger_view: LedgerView,
        readiness: ReadinessProbe,
        clock: Clock,
        installments: InstallmentsSource | None = None,
        webhooks: WebhookHealthSource | None = None,
        relay: RelayLagSource | None = None,
    ) -> None:
        self.payments = payments
        self.payments_view = payments_view
        self.ledger_view = ledger_view
        self.readiness = readiness
        self.clock = clock
        self.installments = installments
        self.webhooks = webhooks
        self.relay = relay

    def snapshot(self, caller: Principal, window: str = DEFAULT_WINDOW) -> DashboardSnapshot:
        """Every panel's figures now (admins only; an unknown window is the default one)."""
        caller.require_admin()
        if window not in WINDOWS:
            window = DEFAULT_WINDOW
        # The readiness first: the log position it reads is at most what the views show.
        readiness = self.readiness.check()
        now = self.clock.now()
        bounds = bucket_bounds(now, window)
        installments, webhooks, relay = self.installments, self.webhooks, self.relay
        return DashboardSnapshot(
            generated_at=now,
            window=window,
            summary=self.payments.summary(caller),
            outcomes=outcome_buckets(bounds, self.payments_view.status_counts_between(bounds)),
            recent=self.payments.list(caller, limit=RECENT_PAYMENTS).payments,
            wallets=self.ledger_view.wallet_totals(),
            readiness=readiness,
            installments=_optional(installments.installments_overview if installments else None),
            webhooks=_optional(webhooks.webhook_health if webhooks else None),
            relay=_optional(relay.relay_lag if relay else None),
        )

    def positions(self) -> tuple[int, int]:
        """How far the payments and ledger views have got: a new pair means new figures."""
        return self.payments_view.position() or 0, self.ledger_view.position() or 0


def _optional(read: Callable[[], T] | None) -> T | None:
    """A source's answer, or None without a source or when it fails (logged)."""
    if read is None:
        return None
    try:
        return read()
    except Exception:
        log.exception("a dashboard source failed: %s", read)
        return None
