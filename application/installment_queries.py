"""Lists of installment plans and of due installments, from the installments read model
(newest plans first, paginated; due installments earliest first). Lists wait for the log's
end, so a sequential client reads its own writes; SCHEDULED installments whose date has
come are shown DUE."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from application import results_installments as shown
from application.ports.clock import Clock
from application.ports.installments import InstallmentsView
from application.principal import Principal
from application.queries import (
    PAGE_SIZE_MAX,
    WAIT_TIMEOUT_S,
    decode_position_cursor,
    encode_position_cursor,
)
from application.results_installments import (
    InstallmentOut,
    InstallmentPage,
    InstallmentPlanOut,
    InstallmentPlanPage,
)
from application.view_positions import wait_in_thread

PAGE_SIZE_DEFAULT = 50


class InstallmentQueries:
    """Reads of the installments view, scoped by who asks: a customer sees their own plans,
    admins and auditors everyone's (or one customer's)."""

    def __init__(
        self,
        view: InstallmentsView,
        log_end: Callable[[], int | None],
        clock: Clock,
        wait_timeout_s: float = WAIT_TIMEOUT_S,
    ) -> None:
        self.view = view
        self.log_end = log_end
        self.clock = clock
        self.wait_timeout_s = wait_timeout_s

    def plans(
        self,
        caller: Principal,
        customer_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> InstallmentPlanPage:
        visible, owner = self._owner(caller, customer_id)
        if not visible:
            return InstallmentPlanPage([], 0, None)
        before = decode_position_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self._wait(min_position)
        rows = self.view.page_plans(owner, status, before, limit + 1)
        now = self.clock.now()
        items = [
            shown.plan_shown_at(msgspec.json.decode(doc, type=InstallmentPlanOut), now)
            for _, doc in rows[:limit]
        ]
        more = len(rows) > limit
        next_cursor = encode_position_cursor(rows[limit - 1][0]) if more else None
        return InstallmentPlanPage(items, len(items), next_cursor)

    def due(
        self,
        caller: Principal,
        customer_id: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
    ) -> InstallmentPage:
        """Installments chargeable now (on their date, or at a retry), on active plans."""
        visible, owner = self._owner(caller, customer_id)
        if not visible:
            return InstallmentPage([], 0)
        self._wait(min_position)
        now = self.clock.now()
        documents = self.view.due_documents(owner, now, max(1, min(limit, PAGE_SIZE_MAX)))
        items = [
            shown.shown_at(msgspec.json.decode(doc, type=InstallmentOut), now) for doc in documents
        ]
        return InstallmentPage(items, len(items))

    @staticmethod
    def _owner(caller: Principal, customer_id: str | None) -> tuple[bool, str | None]:
        """Whether the caller may see anything asked for, and the owner to filter on (None:
        everyone's); a customer asking about another customer sees nothing."""
        if caller.may_read_everything:
            return True, customer_id
        if customer_id is not None and customer_id != caller.subject:
            return False, None
        return True, caller.subject

    def _wait(self, min_position: int | None) -> None:
        # Without a position, the log's end now: a sequential client reads its own writes.
        wait_in_thread(self.view, min_position, self.log_end, self.wait_timeout_s)
