"""The payments projection: one row per payment, kept current from the Payment events.

The row says where the payment stands now (status, failure reason, amounts captured and
refunded); its history stays in the log. Each change is committed with its tracking record.
Times are the payment's own (`requested_at`, `at`: the ledger's clock), as its history shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatchmethod
from typing import Any, NamedTuple

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.ports.views import PaymentsViewRecorder
from application.results import CurrencyAmounts, Summary
from domain.money import CURRENCY_EXPONENTS
from domain.payment import Payment
from domain.payment_terms import PaymentStatus

FAILED = PaymentStatus.FAILED
PROCESSING = PaymentStatus.PROCESSING
SUCCESS = PaymentStatus.SUCCESS
PARTIALLY_REFUNDED = PaymentStatus.PARTIALLY_REFUNDED
REFUNDED = PaymentStatus.REFUNDED
STATUSES = tuple(PaymentStatus)


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
            event.requested_at,
            tracking,
        )

    @process_event.register
    def _(self, event: Payment.Rejected, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, FAILED, event.reason, event.at, tracking
        )

    @process_event.register
    def _(self, event: Payment.ProcessingStarted, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, PROCESSING, None, event.at, tracking
        )

    @process_event.register
    def _(self, event: Payment.Failed, tracking: Tracking) -> None:
        self.payments_view.record_status_changed(
            event.originator_id, FAILED, event.reason, event.at, tracking
        )

    @process_event.register
    def _(self, event: Payment.Succeeded, tracking: Tracking) -> None:
        captured = sum(allocation.amount_minor for allocation in event.allocations)
        self.payments_view.record_payment_captured(
            event.originator_id, captured, event.at, tracking
        )

    @process_event.register
    def _(self, event: Payment.Refunded, tracking: Tracking) -> None:
        self.payments_view.record_payment_refunded(
            event.originator_id, event.amount_minor, event.at, tracking
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
    reason, as every view computes them; every status is shown, with zeros. Amounts are
    shown for ISO 4217 currencies only: a request recorded FAILED for its junk currency
    (`""`, `"XYZ"`) counts by status, but its amount is in no currency at all."""
    by_status: dict[str, int] = dict.fromkeys(map(str, STATUSES), 0)
    amounts: dict[str, dict[str, int]] = {}
    captured: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for group in groups:
        by_status[group.status] = by_status.get(group.status, 0) + group.payments
        if group.currency not in CURRENCY_EXPONENTS:
            continue
        per_status = amounts.setdefault(group.currency, dict.fromkeys(map(str, STATUSES), 0))
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
