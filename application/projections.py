"""Projections: read models derived from the log, each change committed with its tracking."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.ports import LedgerView
from domain.account import Account
from domain.journal import JournalTransaction


class LedgerViewRecorder(LedgerView, Protocol):
    """What the ledger projection writes. Every method stores its change and the tracking
    record in one transaction, so each event is applied exactly once."""

    def record_wallet_opened(
        self,
        account_id: UUID,
        customer_id: str,
        currency: str,
        overdraft_limit: int,
        opened_at: datetime,
        tracking: Tracking,
    ) -> None: ...

    def record_wallet_entry(
        self,
        account_id: UUID,
        sequence: int,
        transaction_id: UUID,
        kind: str,
        amount: int,
        balance_after: int,
        description: str,
        posted_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Append a statement entry and set the wallet's balance to `balance_after`."""
        ...

    def record_held_change(
        self, account_id: UUID, sequence: int, delta: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `delta` (negative on release) to the wallet's held amount."""
        ...

    def record_system_postings(
        self, postings: list[tuple[UUID, str, str, int]], tracking: Tracking
    ) -> None:
        """Add (account_id, account, currency, amount) postings to system balances."""
        ...

    def insert_tracking(self, tracking: Tracking) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes made inside the block into one transaction (all or nothing)."""
        ...

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        ...


class LedgerProjection(Projection[Any]):
    """Balances and statements of wallets, and balances of system accounts."""

    name = "ledger_view"
    # No topic filter: every event is tracked, so a reader waiting for the position a write
    # returned is never left waiting on an event this view does not care about.
    topics = ()

    @property
    def ledger_view(self) -> LedgerViewRecorder:
        view: LedgerViewRecorder = self.view
        return view

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.ledger_view.insert_tracking(tracking)

    @process_event.register
    def _(self, event: Account.Opened, tracking: Tracking) -> None:
        self.ledger_view.record_wallet_opened(
            event.originator_id,
            event.customer_id,
            event.currency,
            event.overdraft_limit_minor,
            event.timestamp,
            tracking,
        )

    @process_event.register
    def _(self, event: Account.Posted, tracking: Tracking) -> None:
        self.ledger_view.record_wallet_entry(
            event.originator_id,
            event.originator_version,
            event.transaction_id,
            event.kind,
            event.amount_minor,
            event.balance_after_minor,
            event.description,
            event.timestamp,
            tracking,
        )

    @process_event.register
    def _(self, event: Account.HoldPlaced, tracking: Tracking) -> None:
        self.ledger_view.record_held_change(
            event.originator_id,
            event.originator_version,
            event.amount_minor,
            event.timestamp,
            tracking,
        )

    @process_event.register
    def _(self, event: Account.HoldReleased, tracking: Tracking) -> None:
        self.ledger_view.record_held_change(
            event.originator_id,
            event.originator_version,
            -event.amount_minor,
            event.timestamp,
            tracking,
        )

    @process_event.register
    def _(self, event: JournalTransaction.Recorded, tracking: Tracking) -> None:
        system = [
            (p.account_id, p.account_code, p.currency, p.amount_minor)
            for p in event.postings
            if p.is_system
        ]
        if system:
            self.ledger_view.record_system_postings(system, tracking)
        else:
            self.ledger_view.insert_tracking(tracking)
