"""The payments projection: one row per payment, kept current from the Payment events.

The row says where the payment stands now (status, failure reason, amounts captured and
refunded); its history stays in the log. Each change is committed with its tracking record.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.ports import PaymentsView
from application.results import CurrencyAmounts, Summary
from domain.charge import Charge
from domain.payment import (
    FAILED,
    PARTIALLY_REFUNDED,
    PROCESSING,
    REFUNDED,
    STATUSES,
    SUCCESS,
    Payment,
)


class PaymentsViewRecorder(PaymentsView, Protocol):
    """What the payments projection writes. Every method stores its change and the tracking
    record in one transaction, so each event is applied exactly once. A change to a payment
    the view never saw created raises `LookupError` and changes nothing."""

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
        ...

    def record_status_changed(
        self,
        payment_id: UUID,
        status: str,
        failure_reason: str | None,
        changed_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Set the status and the failure reason (None clears it)."""
        ...

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        ...

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total: REFUNDED once it reaches the captured amount,
        PARTIALLY_REFUNDED before."""
        ...

    def insert_tracking(self, tracking: Tracking) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes made inside the block into one transaction (all or nothing)."""
        ...

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        ...


CHARGE_METHOD = "charge"


class PaymentsProjection(Projection[Any]):
    """The payments list and summary (seed 001's `GET /payments` and `GET /summary`)."""

    name = "payments_view"
    # No topic filter: every event is tracked, so a reader waiting for the position a write
    # returned is never left waiting on an event this view does not care about.
    topics = ()

    @property
    def payments_view(self) -> PaymentsViewRecorder:
        view: PaymentsViewRecorder = self.view
        return view

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Other aggregates' events, and refund requests and refusals (which change nothing
        # the list shows: the reservation is visible on the payment itself).
        self.payments_view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Payment.Created, tracking: Tracking) -> None:
        self.payments_view.record_payment_created(
            event.originator_id,
            event.payer_id,
            event.recipient,
            event.amount_minor,
            event.currency,
            event.method,
            event.timestamp,
            tracking,
        )

    # Charges are listed with payments (method `charge`): pending, then SUCCESS or FAILED.

    @process_event.register
    def _(self, event: Charge.Created, tracking: Tracking) -> None:
        self.payments_view.record_payment_created(
            event.originator_id,
            event.customer_id,
            event.recipient,
            event.amount_minor,
            event.currency,
            CHARGE_METHOD,
            event.timestamp,
            tracking,
        )

    @process_event.register
    def _(self, event: Charge.Succeeded, tracking: Tracking) -> None:
        captured = sum(a.amount_minor for a in event.allocations)
        self.payments_view.record_payment_captured(
            event.originator_id, captured, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Charge.Failed, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, FAILED, event.reason, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Payment.Rejected, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, FAILED, event.reason, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Payment.ProcessingStarted, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, PROCESSING, None, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Payment.Failed, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, FAILED, event.reason, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Payment.Succeeded, tracking: Tracking) -> None:
        captured = sum(allocation.amount_minor for allocation in event.allocations)
        self.payments_view.record_payment_captured(
            event.originator_id, captured, event.timestamp, tracking
        )

    @process_event.register
    def _(self, event: Payment.Refunded, tracking: Tracking) -> None:
        self.payments_view.record_payment_refunded(
            event.originator_id, event.amount_minor, event.timestamp, tracking
        )


class StatusGroup(NamedTuple):
    """The payments of one status in one currency: how many, and their amounts summed."""

    status: str
    currency: str
    payments: int
    amount: int
    captured: int
    refunded: int


def summary_of(
    groups: Iterable[StatusGroup], failure_reasons: Iterable[tuple[str, int]]
) -> Summary:
    """The summary from per (status, currency) totals and counts of failed payments by
    reason, as every view computes them; every status is shown, with zeros."""
    by_status = dict.fromkeys(STATUSES, 0)
    amounts: dict[str, dict[str, int]] = {}
    captured: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for group in groups:
        by_status[group.status] = by_status.get(group.status, 0) + group.payments
        per_status = amounts.setdefault(group.currency, dict.fromkeys(STATUSES, 0))
        per_status[group.status] = per_status.get(group.status, 0) + group.amount
        captured[group.currency] = captured.get(group.currency, 0) + group.captured
        refunded[group.currency] = refunded.get(group.currency, 0) + group.refunded
    reasons = sorted(failure_reasons, key=lambda item: (-item[1], item[0]))
    return Summary(
        total=sum(by_status.values()),
        success=by_status[SUCCESS] + by_status[PARTIALLY_REFUNDED],
        failed=by_status[FAILED],
        refunded=by_status[REFUNDED],
        failure_reasons=dict(reasons),
        by_status=by_status,
        amounts=[
            CurrencyAmounts(currency, amounts[currency], captured[currency], refunded[currency])
            for currency in sorted(amounts)
        ],
    )
