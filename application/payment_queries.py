"""Payment queries: the filtered, paginated list and the summary, from the payments view."""

from __future__ import annotations

from datetime import datetime

from application import results
from application.errors import InvalidPaymentStatusError, ViewNotCaughtUpError
from application.ports.views import PaymentsView
from application.principal import Principal
from application.queries import (
    PAGE_SIZE_MAX,
    WAIT_TIMEOUT_S,
    decode_position_cursor,
    encode_position_cursor,
)
from domain.payment_terms import PaymentStatus

STATUSES = tuple(PaymentStatus)

PAGE_SIZE_DEFAULT = 50


def check_status(status: str) -> None:
    """Refuse a status filter that is not one of the payment statuses."""
    if status not in STATUSES:
        raise InvalidPaymentStatusError(
            f"Unknown payment status {status!r}; use one of {', '.join(STATUSES)}."
        )


class PaymentQueries:
    """Reads of payments for the HTTP API. A caller may pass the position a write returned,
    and the read waits (bounded) until the view has caught up with it: read-your-writes."""

    def __init__(self, view: PaymentsView, wait_timeout_s: float = WAIT_TIMEOUT_S) -> None:
        self.view = view
        self.wait_timeout_s = wait_timeout_s

    def list(
        self,
        caller: Principal,
        status: str | None = None,
        payer_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = PAGE_SIZE_DEFAULT,
        min_position: int | None = None,
        method: str | None = None,
    ) -> results.PaymentPage:
        """A page of payments, newest first, created in `[created_from, created_to)`;
        `method="charge"` lists charges (seed 003's wallet-first charges)."""
        if status is not None:
            check_status(status)
        if not caller.may_read_everything:  # a customer lists the payments they made
            if payer_id not in (None, caller.subject):
                return results.PaymentPage([], None)
            payer_id = caller.subject
        before = decode_position_cursor(cursor) if cursor else None
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        self._wait(min_position)
        rows = self.view.list_payments(
            status, payer_id, created_from, created_to, before, limit + 1, method
        )
        more = len(rows) > limit
        next_cursor = encode_position_cursor(rows[limit - 1].position) if more else None
        return results.PaymentPage(rows[:limit], next_cursor)

    def summary(self, caller: Principal, min_position: int | None = None) -> results.Summary:
        """Counts by outcome, failure reasons, and amounts per currency (admins and
        auditors)."""
        caller.require_reader()
        self._wait(min_position)
        return self.view.summary()

    def _wait(self, min_position: int | None) -> None:
        if min_position is not None and not self.view.wait_for(min_position, self.wait_timeout_s):
            raise ViewNotCaughtUpError(f"The view has not reached position {min_position} yet.")
