"""Sources of the dashboard's optional panels, each over a feature's own read model."""

from __future__ import annotations

from collections import Counter

import msgspec

from application.ports.clock import Clock
from application.ports.installments import InstallmentsView
from application.results_dashboard import InstallmentsOverview
from domain.installment_plan import PlanStatus

PLAN_PAGE = 500
OPEN_STATUSES = frozenset({PlanStatus.PENDING.value, PlanStatus.ACTIVE.value})
# Installments due now that the overview counts one by one; past it the panel says "N+".
OVERDUE_COUNT_MAX = 1_000


class _PlanFigures(msgspec.Struct):
    """The few fields of a plan's stored document the overview sums."""

    status: str
    currency: str
    remaining_amount: int


class InstallmentsOverviewSource:
    """An `InstallmentsSource`: plans by status, what open plans still owe per currency, and
    the installments due now and not yet charged (all from the installments view)."""

    def __init__(self, view: InstallmentsView, clock: Clock) -> None:
        self.view = view
        self.clock = clock
        self._decode = msgspec.json.Decoder(_PlanFigures).decode

    def installments_overview(self) -> InstallmentsOverview:
        by_status: Counter[str] = Counter()
        outstanding: Counter[str] = Counter()
        before: int | None = None
        while True:
            page = self.view.page_plans(None, None, before, PLAN_PAGE)
            for _, document in page:
                plan = self._decode(document)
                by_status[plan.status] += 1
                if plan.status in OPEN_STATUSES:
                    outstanding[plan.currency] += plan.remaining_amount
            if len(page) < PLAN_PAGE:
                break
            before = page[-1][0]
        overdue = len(self.view.due_installments(None, self.clock.now(), OVERDUE_COUNT_MAX))
        return InstallmentsOverview(
            plans=sum(by_status.values()),
            by_status=dict(by_status),
            outstanding=dict(outstanding),
            overdue=overdue,
        )
