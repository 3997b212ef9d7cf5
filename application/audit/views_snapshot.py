"""What the projections hold, read consistently at one log position, for verification."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.ports.views import LedgerView, PaymentsView

READ_ATTEMPTS = 5
PAYMENTS_PAGE = 1_000
PAYMENTS_PAGES_MAX = 100_000


@dataclass(frozen=True)
class ViewSnapshot:
    """One view's content at `position` (the view did not move while it was read)."""

    name: str
    position: int
    balances: dict[UUID, tuple[str, int]]  # account id -> (account, balance)
    payments: dict[UUID, tuple[str, int]]  # payment id -> (status, refunded)


class ProjectionReader:
    """Reads the ledger and payments views, each at a position it holds still."""

    def __init__(self, ledger_view: LedgerView, payments_view: PaymentsView) -> None:
        self._ledger = ledger_view
        self._payments = payments_view

    def snapshots(self) -> tuple[list[ViewSnapshot], list[str]]:
        """The snapshots it could take, and the names of views that kept moving."""
        taken: list[ViewSnapshot] = []
        moving: list[str] = []
        for name, read in (("ledger_view", self._read_ledger), ("payments_view", self._read_pay)):
            snapshot = read()
            if snapshot is None:
                moving.append(name)
            else:
                taken.append(snapshot)
        return taken, moving

    def _read_ledger(self) -> ViewSnapshot | None:
        for _ in range(READ_ATTEMPTS):
            before = self._ledger.position() or 0
            balances = {b.account_id: (b.account, b.balance) for b in self._ledger.balances()}
            if (self._ledger.position() or 0) == before:
                return ViewSnapshot("ledger_view", before, balances, {})
        return None

    def _read_pay(self) -> ViewSnapshot | None:
        for _ in range(READ_ATTEMPTS):
            before = self._payments.position() or 0
            payments: dict[UUID, tuple[str, int]] = {}
            cursor: int | None = None
            for _page in range(PAYMENTS_PAGES_MAX):
                rows = self._payments.list_payments(None, None, None, None, cursor, PAYMENTS_PAGE)
                for row in rows:
                    payments[row.id] = (str(row.status), row.refunded)
                if len(rows) < PAYMENTS_PAGE:
                    break
                cursor = rows[-1].position
            if (self._payments.position() or 0) == before:
                return ViewSnapshot("payments_view", before, {}, payments)
        return None
