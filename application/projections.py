"""The ledger projection: balances and statements derived from the log, each change
committed with its tracking record."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.ports.views import LedgerViewRecorder
from domain.account import Account
from domain.journal import JournalTransaction


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
