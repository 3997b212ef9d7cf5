"""A ledger read model that cannot apply some events, for tests of loud failures.

`PoisonedLedgerView` is the real SQL ledger view, except that opening a wallet for a
customer in `poisoned` raises (as a view with a bug, or a constraint the event breaks,
would); `cure()` fixes it, and the runner must then carry on from that very event.
"""

from __future__ import annotations

from typing import Any

from adapters.views.factory import open_view_database
from adapters.views.ledger_view import SqlLedgerView

APPLICATION_NAME = "payledger"


class PoisonError(ValueError):
    """The view cannot apply this event."""


class PoisonedLedgerView(SqlLedgerView):
    """The ledger view, refusing to open wallets of poisoned customers until cured."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poisoned: set[str] = set()
        self.refusals = 0

    def record_wallet_opened(self, account_id: Any, customer_id: str, *args: Any) -> None:
        if customer_id in self.poisoned:
            self.refusals += 1
            raise PoisonError(f"cannot open a wallet for {customer_id}")
        super().record_wallet_opened(account_id, customer_id, *args)

    def cure(self) -> None:
        self.poisoned.clear()


def memory_poisoned_view(*poisoned: str) -> PoisonedLedgerView:
    """A poisoned ledger view in a private in-memory database."""
    view = PoisonedLedgerView(open_view_database("memory"), APPLICATION_NAME)
    view.create_table()
    view.poisoned.update(poisoned)
    return view
