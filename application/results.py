"""What use cases return: small msgspec structs, also used as HTTP response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

import msgspec

from domain.hold import HoldStatus
from domain.payment_terms import PaymentMethod, PaymentStatus

T = TypeVar("T")


class PostingOut(msgspec.Struct, frozen=True):
    account_id: UUID
    account: str
    amount: int
    currency: str
    balance_after: int | None = None


class Transaction(msgspec.Struct, frozen=True):
    """A balanced journal transaction; amounts in minor units (+ in, - out)."""

    id: UUID
    kind: str
    description: str
    reference: str
    created_at: datetime
    postings: list[PostingOut]


class Wallet(msgspec.Struct, frozen=True):
    """A customer's wallet in one currency."""

    id: UUID
    customer_id: str
    currency: str
    balance: int
    held: int
    available: int
    overdraft_limit: int
    version: int
    updated_at: datetime


class CustomerWallets(msgspec.Struct, frozen=True):
    customer_id: str
    wallets: list[Wallet]


class Hold(msgspec.Struct, frozen=True):
    """A reservation of wallet money; `status` is PENDING, POSTED, VOIDED or EXPIRED."""

    id: UUID
    wallet_id: UUID
    customer_id: str
    amount: int
    currency: str
    status: HoldStatus
    posted_amount: int
    transaction_id: UUID | None
    expires_at: datetime | None
    description: str
    created_at: datetime


class StatementEntry(msgspec.Struct, frozen=True):
    """One posting on a wallet with the balance it left (the running balance)."""

    sequence: int
    transaction_id: UUID
    kind: str
    amount: int
    balance_after: int
    description: str
    posted_at: datetime
    position: int


class HistoryEntry(msgspec.Struct, frozen=True):
    """One posting on one of a customer's wallets (a line of their transaction history)."""

    wallet_id: UUID
    currency: str
    entry: StatementEntry


class History(msgspec.Struct, frozen=True):
    """A page of a customer's postings across their wallets, newest first; pass
    `next_cursor` for the next page."""

    customer_id: str
    transactions: list[HistoryEntry]
    next_cursor: str | None


class Statement(msgspec.Struct, frozen=True):
    """A page of a wallet's entries, newest first; pass `next_cursor` for the next page."""

    customer_id: str
    currency: str
    wallet_id: UUID
    entries: list[StatementEntry]
    next_cursor: str | None


class AccountBalance(msgspec.Struct, frozen=True):
    """A ledger account's balance as a read model holds it."""

    account_id: UUID
    account: str
    currency: str
    balance: int


class BalancePage(msgspec.Struct, frozen=True):
    """Account balances in account id order; pass `next_cursor` for the next page."""

    balances: list[AccountBalance]
    next_cursor: str | None


class Written(msgspec.Struct, Generic[T], frozen=True):
    """A command's result, the log position it reached, and whether it was a replay."""

    value: T
    position: int | None
    replayed: bool = False


class ViewProgress(msgspec.Struct, frozen=True):
    """How far one follower of the log (a read model, the payment processor) has got."""

    name: str
    position: int | None
    lag: int


class FollowerFailure(msgspec.Struct, frozen=True):
    """A follower of the log (a read model, the payment processor) that cannot apply an
    event: which one, the event's position and type, and the error."""

    name: str
    position: int | None
    event_type: str | None
    error: str


class RelayStatus(msgspec.Struct, frozen=True):
    """The NATS relay as readiness sees it: `off` (no NATS configured) or `on`, where it
    publishes, its position, and how far behind the log it is (events and seconds since
    the oldest unpublished event was recorded). It never makes the API unready: payments
    are taken while NATS is down and published when it is back."""

    status: str
    destination: str = ""
    position: int | None = None
    lag: int = 0
    lag_s: float = 0.0
    # Counted by the relay running in this process (0 where it runs elsewhere): messages
    # acknowledged, and of those, re-sends the stream already had.
    published_total: int = 0
    duplicates_total: int = 0


RELAY_OFF = RelayStatus("off", "no NATS configured (PAYLEDGER_NATS_URL is empty)")


class Readiness(msgspec.Struct, frozen=True):
    """Whether the service can serve: the event store answers, every follower of the log
    keeps up and none is stuck on an event it cannot apply. `view_position` and `view_lag`
    are those of the follower furthest behind; `failures` lists the stuck ones."""

    ready: bool
    database: str
    log_position: int | None
    view_position: int | None
    view_lag: int
    views: list[ViewProgress] = []
    failures: list[FollowerFailure] = []
    relay: RelayStatus = RELAY_OFF


class PaymentStep(msgspec.Struct, frozen=True):
    """One transition of a payment, with its reason and time."""

    status: PaymentStatus
    reason: str
    at: datetime


class SplitOut(msgspec.Struct, frozen=True):
    payee: str
    bps: int | None = None
    amount: int | None = None


class PayeeAmount(msgspec.Struct, frozen=True):
    payee: str
    amount: int


class CardOut(msgspec.Struct, frozen=True):
    brand: str
    last4: str


class Payment(msgspec.Struct, frozen=True):
    """A payment and its history; amounts in minor units. `payment_id` repeats `id` under
    seed 001's name, so its clients read the answer as they did."""

    id: UUID
    payment_id: UUID
    status: PaymentStatus
    amount: int
    currency: str
    payer_id: str
    recipient: str
    method: PaymentMethod
    card: CardOut | None
    description: str
    failure_reason: str | None
    retryable: bool
    attempts: int
    captured: int
    refunded: int
    refundable: int
    pending_refunds: int
    splits: list[SplitOut]
    allocations: list[PayeeAmount]
    transaction_id: UUID | None
    history: list[PaymentStep]
    created_at: datetime
    updated_at: datetime


class PaymentRow(msgspec.Struct, frozen=True):
    """A payment as the payments list shows it (from the read model)."""

    id: UUID
    status: PaymentStatus
    amount: int
    currency: str
    payer_id: str
    recipient: str
    method: PaymentMethod
    failure_reason: str | None
    refunded: int
    created_at: datetime
    updated_at: datetime
    position: int


class PaymentPage(msgspec.Struct, frozen=True):
    """Payments newest first; pass `next_cursor` for the next page."""

    payments: list[PaymentRow]
    next_cursor: str | None


class CurrencyAmounts(msgspec.Struct, frozen=True):
    """Per currency: amounts in minor units by status, and totals captured and refunded."""

    currency: str
    by_status: dict[str, int]
    captured: int
    refunded: int


class Summary(msgspec.Struct, frozen=True):
    """Counts of payments by outcome, as seed 001 shows them, plus amounts per currency."""

    total: int
    success: int
    failed: int
    refunded: int
    failure_reasons: dict[str, int]
    by_status: dict[str, int]
    amounts: list[CurrencyAmounts]


class Charge(msgspec.Struct, frozen=True):
    """A charge (a payment with method `wallet_first`) and how much of it came from the
    wallet and from the card; refund it like any payment."""

    id: UUID
    status: PaymentStatus
    customer_id: str
    recipient: str
    amount: int
    currency: str
    wallet_amount: int
    card_amount: int
    card: CardOut | None
    description: str
    failure_reason: str | None
    allocations: list[PayeeAmount]
    refunded: int
    refundable: int
    transaction_id: UUID | None
    created_at: datetime
    updated_at: datetime
