"""The payments read model in memory: for unit tests and the POPO event store."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from adapters.views.common import TrackedPosition, check_aware
from application.payment_projection import StatusGroup, summary_of
from application.results import PaymentRow, Summary
from domain.payment import CREATED, FAILED, PARTIALLY_REFUNDED, REFUNDED, SUCCESS


class MemoryPaymentsView(TrackedPosition, POPOTrackingRecorder):
    """Payment rows in a dictionary, guarded by the recorder's one (re-entrant) lock."""

    # In memory a poll is cheap: poll every 5 ms, without backing off.
    poll_delay_max_s = TrackedPosition.poll_delay_min_s

    def __init__(self, application_name: str = "payledger") -> None:
        super().__init__()
        self.application_name = application_name
        # One lock for rows and tracking, so a batch is all or nothing for both.
        self._lock = self._database_lock
        self.reset()

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        with self._lock:
            self._payments: dict[UUID, dict[str, Any]] = {}
            self._max_tracking_ids.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Apply many writes all or nothing: on an error the view is put back as it was."""
        with self._lock:
            saved = (copy.deepcopy(self._payments), dict(self._max_tracking_ids))
            try:
                yield
            except BaseException:
                self._payments = saved[0]
                self._max_tracking_ids.clear()
                self._max_tracking_ids.update(saved[1])
                raise

    # Writes (each with its tracking record, all-or-nothing under the lock).

    def record_payment_created(
        self,
        payment_id: UUID,
        payer_id: str,
        recipient: str,
        amount: int,
        currency: str,
        method: str,
        created_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Add a CREATED payment, listed at the log position of `tracking`."""
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            if payment_id in self._payments:  # as a primary key would refuse it
                raise IntegrityError(f"payment {payment_id} is in the payments view already")
            self._payments[payment_id] = {
                "status": CREATED,
                "amount": amount,
                "currency": currency,
                "payer_id": payer_id,
                "recipient": recipient,
                "method": method,
                "failure_reason": None,
                "captured": 0,
                "refunded": 0,
                "created_at": created_at,
                "updated_at": created_at,
                "position": tracking.notification_id,
            }
            self._insert_tracking(tracking)

    def record_status_changed(
        self,
        payment_id: UUID,
        status: str,
        failure_reason: str | None,
        changed_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Set the status and the failure reason (None clears it)."""
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            row = self._row(payment_id)
            row.update(status=status, failure_reason=failure_reason, updated_at=changed_at)
            self._insert_tracking(tracking)

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            row = self._row(payment_id)
            row.update(status=SUCCESS, captured=captured, updated_at=changed_at)
            self._insert_tracking(tracking)

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total; REFUNDED once it reaches the captured amount."""
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            row = self._row(payment_id)
            refunded = row["refunded"] + amount
            status = REFUNDED if refunded == row["captured"] else PARTIALLY_REFUNDED
            row.update(status=status, refunded=refunded, updated_at=changed_at)
            self._insert_tracking(tracking)

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record an event the view skips."""
        with self._lock:
            self._assert_tracking_uniqueness(tracking)
            self._insert_tracking(tracking)

    # Reads.

    def list_payments(
        self,
        status: str | None,
        payer_id: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        before_position: int | None,
        limit: int,
        method: str | None = None,
    ) -> list[PaymentRow]:
        """Payments newest first (by log position of their creation), filtered; the
        creation time range is half-open: `created_from <= created_at < created_to`."""
        if limit < 0:
            raise ValueError(f"limit must not be negative: {limit}")
        for moment in (created_from, created_to):
            if moment is not None:
                check_aware(moment)
        with self._lock:
            rows = [
                _payment_row(payment_id, row)
                for payment_id, row in self._payments.items()
                if (status is None or row["status"] == status)
                and (payer_id is None or row["payer_id"] == payer_id)
                and (created_from is None or row["created_at"] >= created_from)
                and (created_to is None or row["created_at"] < created_to)
                and (before_position is None or row["position"] < before_position)
                and (method is None or row["method"] == method)
            ]
        return sorted(rows, key=lambda r: -r.position)[:limit]

    def summary(self) -> Summary:
        """Counts by outcome and status, failure reasons, and amounts per currency."""
        with self._lock:
            rows = list(self._payments.values())
        totals: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            total = totals.setdefault((row["status"], row["currency"]), [0, 0, 0, 0])
            for i, value in enumerate((1, row["amount"], row["captured"], row["refunded"])):
                total[i] += value
        reasons = Counter(row["failure_reason"] or "" for row in rows if row["status"] == FAILED)
        groups = [
            StatusGroup(status, currency, *sums) for (status, currency), sums in totals.items()
        ]
        return summary_of(groups, reasons.items())

    def _row(self, payment_id: UUID) -> dict[str, Any]:
        # A change to a payment the view never saw created means the view is incomplete:
        # fail rather than record the position and lose the change.
        row = self._payments.get(payment_id)
        if row is None:
            raise LookupError(f"payment {payment_id} is not in the payments view")
        return row


def _payment_row(payment_id: UUID, row: dict[str, Any]) -> PaymentRow:
    return PaymentRow(
        id=payment_id,
        status=row["status"],
        amount=row["amount"],
        currency=row["currency"],
        payer_id=row["payer_id"],
        recipient=row["recipient"],
        method=row["method"],
        failure_reason=row["failure_reason"],
        refunded=row["refunded"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        position=row["position"],
    )
