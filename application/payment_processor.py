"""The payment processor: a process manager that follows the log and moves payments on.

It reads `Payment.Created` and `Payment.ProcessingStarted` events (a new payment, a retry)
and asks the settlement to advance the payment; its position is tracked durably, so after a
restart it carries on where it stopped. Processing is at-least-once and made effectively
once by the settlement: a finished payment is left alone and a repeated gateway call reuses the
attempt's idempotency key. Payments whose gateway outcome was unknown stay PROCESSING until
`reconcile` asks the gateway again with the same key.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import singledispatchmethod
from typing import Any, NewType
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from application.ports.clock import Clock
from application.ports.views import PaymentsView
from application.settlement import PaymentSettlement
from domain.payment import PROCESSING, Payment

log = logging.getLogger(__name__)

# Where the payment processor records its position (a tracking recorder of its own).
ProcessorTracker = NewType("ProcessorTracker", TrackingRecorder)

RECONCILE_INTERVAL_S = 2.0
STALE_AFTER_S = 10.0  # a PROCESSING payment untouched this long is asked about again
STALE_SCAN_MAX = 1_000
WORKERS_MAX = 16  # payments advanced at once (overlapping gateway latency)


class PaymentProcessor(Projection[Any]):
    """Advances every new or retried payment once its event is in the log."""

    name = "payment_processor"

    def __init__(
        self,
        view: TrackingRecorder,
        settlement: PaymentSettlement,
        clock: Clock,
        payments: PaymentsView | None = None,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        super().__init__(view)
        self.settlement = settlement
        self.clock = clock
        # The payments read model: where payments left PROCESSING by an earlier run (or
        # another replica) are found again, so an unknown outcome survives a restart.
        self.payments = payments
        self.stale_after_s = stale_after_s
        self.unsettled: set[UUID] = set()  # left PROCESSING (unknown gateway outcome)
        self.reconcile_interval_s = RECONCILE_INTERVAL_S
        self._last_reconcile = 0.0

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Created, tracking: Tracking) -> None:
        self._advance(event.originator_id, tracking)

    @process_event.register
    def _(self, event: Payment.ProcessingStarted, tracking: Tracking) -> None:
        self._advance(event.originator_id, tracking)

    def process_batch(self, items: list[tuple[Any, Tracking]]) -> None:
        """Settle the batch's wallet payments together (one commit for many: they need no
        gateway), advance the rest concurrently (gateway calls overlap; each payment is
        serialized by its own lock in the ledger), then record the batch's last position.
        If the process dies first, the batch is processed again: settling is idempotent."""
        versions: dict[UUID, int] = {}  # each payment, at its latest event in the batch
        for event, _ in items:
            if isinstance(event, Payment.Created | Payment.ProcessingStarted):
                versions[event.originator_id] = event.originator_version
        if versions:
            settled = self.settlement.settle_batch(versions)
            for payment_id, status in settled.items():
                self._advanced(payment_id, status)
            rest = [payment_id for payment_id in versions if payment_id not in settled]
            if rest:
                with ThreadPoolExecutor(max_workers=min(len(rest), WORKERS_MAX)) as pool:
                    for payment_id, status in zip(
                        rest, pool.map(self.settlement.advance, rest), strict=True
                    ):
                        self._advanced(payment_id, status)
        self.view.insert_tracking(items[-1][1])

    def _advance(self, payment_id: UUID, tracking: Tracking) -> None:
        self._advanced(payment_id, self.settlement.advance(payment_id))
        self.view.insert_tracking(tracking)

    def _advanced(self, payment_id: UUID, status: str) -> None:
        if status == PROCESSING:
            self.unsettled.add(payment_id)
        # Carries the payment's id: the request that created it logged that id with its own.
        log.info(
            "payment %s advanced: %s",
            payment_id,
            status,
            extra={"payment_id": str(payment_id), "status": str(status)},
        )

    def maybe_reconcile(self) -> int:
        """`reconcile`, at most once per interval (called whenever the processor is idle)."""
        now = time.monotonic()
        if now - self._last_reconcile < self.reconcile_interval_s:
            return 0
        self._last_reconcile = now
        self._find_stale()
        return self.reconcile()

    def _find_stale(self) -> None:
        """Add PROCESSING payments nobody has touched for a while (left by a crash)."""
        if self.payments is None:
            return
        # The view's `updated_at` is the event store's own timestamp of the last change.
        cutoff = self.clock.now() - timedelta(seconds=self.stale_after_s)
        rows = self.payments.list_payments(PROCESSING, None, None, None, None, STALE_SCAN_MAX)
        self.unsettled.update(row.id for row in rows if row.updated_at <= cutoff)

    def reconcile(self) -> int:
        """Ask again about payments whose outcome was unknown; returns how many settled."""
        settled = 0
        for payment_id in list(self.unsettled):
            try:
                status = self.settlement.advance(payment_id)
            except Exception:  # one stuck payment must not stop the others; logged
                log.exception("reconciling payment %s failed", payment_id)
                continue
            if status != PROCESSING:
                self.unsettled.discard(payment_id)
                settled += 1
                log.info(
                    "payment %s reconciled: %s",
                    payment_id,
                    status,
                    extra={"payment_id": str(payment_id), "status": str(status)},
                )
        return settled
