"""Read-model ports: what queries read and what projections write.

Every write method of a `*Recorder` stores its change and the tracking record of the event
in one transaction, so each event changes a view exactly once; a repeated (or older)
tracking record raises `eventsourcing.persistence.IntegrityError` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from application.results import (
    AccountBalance,
    HistoryEntry,
    PaymentRow,
    StatementEntry,
    Summary,
    Wallet,
)
from application.results_dashboard import WalletTotals

# The most intervals one `status_counts_between` read covers.
STATUS_COUNT_INTERVALS_MAX = 100


class PositionTracker(Protocol):
    """How far a follower of the log (a view, the payment processor...) has got."""

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record that the event at `tracking` was handled (and nothing else changed)."""
        ...

    def max_tracking_id(self, application_name: str) -> int | None:
        """The last position handled (None when nothing was)."""
        ...


class TrackedView(PositionTracker, Protocol):
    """A read model that a projection runner feeds."""

    def position(self) -> int | None:
        """The last log position the view has processed."""
        ...

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Block until the view has processed `position`; False on timeout."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes made inside the block into one transaction (all or nothing)."""
        ...

    def reset(self) -> None:
        """Empty the view and forget its tracking: the next run rebuilds it from the log."""
        ...


class LedgerView(Protocol):
    """The read model of balances and statements."""

    def wallets_of(self, customer_id: str) -> list[Wallet]:
        """The customer's wallets, as far as the view has caught up."""
        ...

    def statement(
        self, account_id: UUID, before_sequence: int | None, limit: int
    ) -> list[StatementEntry]:
        """Entries of one wallet, newest first, older than `before_sequence` if given."""
        ...

    def balances(
        self, after_account_id: UUID | None = None, limit: int | None = None
    ) -> list[AccountBalance]:
        """Account balances (wallets and system accounts) in account id order: all of them,
        or `limit` of them after `after_account_id`."""
        ...

    def history(
        self, customer_id: str, before_position: int | None, limit: int
    ) -> list[HistoryEntry]:
        """Entries of all the customer's wallets, newest first, older than
        `before_position` if given."""
        ...

    def wallet_totals(self) -> list[WalletTotals]:
        """Customer wallets per currency (count, balances, held), in currency order."""
        ...

    def position(self) -> int | None:
        """The last log position the view has processed."""
        ...

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Block until the view has processed `position`; False on timeout."""
        ...


class LedgerViewRecorder(LedgerView, TrackedView, Protocol):
    """What the ledger projection writes."""

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

    def status_counts_between(self, bounds: Sequence[datetime]) -> list[dict[str, int]]:
        """For each interval `[bounds[i], bounds[i + 1])` of creation time, how many
        payments have each status (one read, at most `STATUS_COUNT_INTERVALS_MAX`)."""
        ...

    def position(self) -> int | None: ...

    def wait_for(self, position: int, timeout_s: float) -> bool: ...


class PaymentsViewRecorder(PaymentsView, TrackedView, Protocol):
    """What the payments projection writes. A change to a payment the view never saw
    created raises `LookupError` and changes nothing."""

    def record_payment_created(
        self,
        payment_id: UUID,
        payer_id: str,
        recipient: str,
        amount: int,
        currency: str,
        method: str,
        created_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Add a CREATED payment, listed at the log position of `tracking`."""
        ...

    def record_status_changed(
        self,
        payment_id: UUID,
        status: str,
        failure_reason: str | None,
        changed_at: datetime,
        tracking: Tracking,
    ) -> None:
        """Set the status and the failure reason (None clears it)."""
        ...

    def record_payment_captured(
        self, payment_id: UUID, captured: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """SUCCESS, with `captured` the amount paid out to the payees."""
        ...

    def record_payment_refunded(
        self, payment_id: UUID, amount: int, changed_at: datetime, tracking: Tracking
    ) -> None:
        """Add `amount` to the refunded total: REFUNDED once it reaches the captured amount,
        PARTIALLY_REFUNDED before."""
        ...
