"""The installment scheduler: charges installments when they fall due, and follows the log
for how their charges end.

- When idle (caught up with the log), and after each batch of events it follows, at most
  every `scan_interval_s`, it asks the read model for installments due by the `Clock` (a
  SCHEDULED one on its date, a FAILED one at its next attempt, on ACTIVE plans) and starts
  their charges
  (`InstallmentService.charge_installment`): wallet first, the plan's payment method for the
  rest, through the charge machinery every charge uses.
- On `Payment.Succeeded` / `Payment.Failed` of an installment's payment it records the
  outcome on the plan: PAID (the last one completes the plan), or FAILED with a next attempt
  after a backoff, or, after the last attempt, the plan DEFAULTED.

Several schedulers (every `serve` process and `payledger worker`) may run at once: the
charge of one attempt has one deterministic payment id saved with the plan's new version,
so a racing scheduler's command is refused by the event store and then finds the installment
charged already. Its log position is tracked; after a restart it carries on.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, NewType, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from application.installments import REFERENCE_PREFIX, InstallmentService
from application.ports.clock import Clock
from domain.payment import Payment

log = logging.getLogger(__name__)

# Where the scheduler records its position (a tracking recorder of its own).
SchedulerTracker = NewType("SchedulerTracker", TrackingRecorder)

SCAN_INTERVAL_S = 1.0
DUE_BATCH_MAX = 200  # installments started per scan (the next scan takes the rest)


class DueInstallments(Protocol):
    """Where due installments are found (the installments read model)."""

    def due_installments(
        self, owner: str | None, now: datetime, limit: int
    ) -> list[tuple[UUID, int]]:
        """(plan id, installment number) of installments chargeable at `now`, on active
        plans, earliest first."""
        ...


class InstallmentScheduler(Projection[Any]):
    """Charges due installments and records how their charges end."""

    name = "installment_scheduler"

    def __init__(
        self,
        view: TrackingRecorder,
        installments: InstallmentService,
        due: DueInstallments,
        clock: Clock,
        scan_interval_s: float = SCAN_INTERVAL_S,
        batch_max: int = DUE_BATCH_MAX,
    ) -> None:
        super().__init__(view)
        self.installments = installments
        self.due = due
        self.clock = clock
        self.scan_interval_s = scan_interval_s
        self.batch_max = batch_max
        self._last_scan = float("-inf")

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Succeeded, tracking: Tracking) -> None:
        self._payment_ended(event.originator_id)
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Failed, tracking: Tracking) -> None:
        self._payment_ended(event.originator_id)
        self.view.insert_tracking(tracking)

    def process_batch(self, items: list[tuple[Any, Tracking]]) -> None:
        """The batch's payment outcomes, then its last position only (one write, not one
        per event). If the process dies first, the batch is processed again: recording an
        outcome is idempotent."""
        for event, _ in items:
            if isinstance(event, Payment.Succeeded | Payment.Failed):
                self._payment_ended(event.originator_id)
        self.view.insert_tracking(items[-1][1])
        # A busy log never leaves the runner idle: due installments are looked for here too.
        self.maybe_charge_due()

    def _payment_ended(self, payment_id: UUID) -> None:
        ledger = self.installments.runner.ledger
        try:
            # The reference never changes: a cached copy tells whether it pays an installment.
            payment: Any = ledger.repository.get(payment_id)
        except AggregateNotFoundError:
            return
        if not isinstance(payment, Payment) or not payment.reference.startswith(REFERENCE_PREFIX):
            return
        status = self.installments.record_outcome(payment_id)
        log.info(
            "installment payment %s ended: installment %s",
            payment_id,
            status,
            extra={"payment_id": str(payment_id), "status": str(status)},
        )

    def maybe_charge_due(self) -> int:
        """`charge_due`, at most once per `scan_interval_s` (called whenever idle)."""
        now = time.monotonic()
        if now - self._last_scan < self.scan_interval_s:
            return 0
        self._last_scan = now
        return self.charge_due()

    def charge_due(self) -> int:
        """Start the charges of the installments due now; returns how many started (or
        were paid at once by the wallet, or failed at once for want of funds)."""
        started = 0
        for plan_id, number in self.due.due_installments(None, self.clock.now(), self.batch_max):
            try:
                self.installments.charge_installment(plan_id, number)
            except Exception:  # one plan must not stop the others; logged, tried next scan
                log.exception("charging installment %s of plan %s failed", number, plan_id)
                continue
            started += 1
        return started
