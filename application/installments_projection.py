"""The installments projection: keeps the installments read model current from the log.

On any event of a plan, the plan as that event left it (read from the stored events) is
presented once, as a single read presents it (statuses as stored: DUE is added when read),
and stored with, for each installment, the instant it may next be charged. Each change is
committed with its tracking record (exactly once).
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application import results_installments as shown
from application.ledger import Ledger
from application.ports.installments import InstallmentsView
from domain.installment_plan import InstallmentPlan

_encoder = msgspec.json.Encoder()


class InstallmentsProjection(Projection[Any]):
    """Plans and their installments, for lists and the due list."""

    name = "installments_view"
    topics = ()  # every event is tracked: readers waiting on a position are never stuck

    def __init__(self, view: InstallmentsView, ledger: Ledger) -> None:
        super().__init__(view)
        self.installments = view
        self.ledger = ledger

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if not type(domain_event).__qualname__.startswith("InstallmentPlan."):
            self.installments.insert_tracking(tracking)
            return
        plan_id, version = domain_event.originator_id, domain_event.originator_version
        try:
            # The plan as this very event left it, from the stored events (never a cached
            # copy, which another thread's command may be changing).
            found: Any = self.ledger.repository.get(plan_id, version=version)
        except AggregateNotFoundError:  # cannot happen for an event in the log; stay safe
            self.installments.insert_tracking(tracking)
            return
        assert isinstance(found, InstallmentPlan)
        document = shown.plan(found, None)
        rows = [
            (item.number, item.ready_at, _encoder.encode(out))
            for item, out in zip(found.installments, document.installments, strict=True)
        ]
        self.installments.put_plan(
            found.id, found.customer_id, found.status, _encoder.encode(document), rows, tracking
        )
