"""Ports: what the application needs from the outside world, as Protocols."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.results import AccountBalance, PaymentRow, StatementEntry, Summary, Wallet


class Clock(Protocol):
    """Tells the time; aggregates never read the clock themselves."""

    def now(self) -> datetime: ...


class LedgerView(Protocol):
    """The read model of balances and statements (PostgreSQL, SQLite or in memory)."""

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets, as far as the view has caught up."""
        ...

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        """Entries of one wallet, newest first, older than `before_sequence` if given."""
        ...

    def balances(self) -> list[AccountBalance]:
        """Every account's balance (wallets and system accounts)."""
        ...

    def position(self) -> int | None:
        """The last log position the view has processed."""
        ...

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Block until the view has processed `position`; False on timeout."""
        ...


class PaymentsView(Protocol):
    """The payments read model: a filtered, paginated list and the summary."""

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
        """Payments newest first (by log position of their creation), filtered."""
        ...

    def summary(self) -> Summary: ...

    def position(self) -> int | None: ...

    def wait_for(self, position: int, timeout_s: float) -> bool: ...
