"""Folds over stored events: an account's balance and statement, a payment's state.

Each fold takes one stored record at a time and keeps only what it needs; nothing here
reads the database (see `replay.py` for the paging loop).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import msgspec

from application.audit import decoding as d
from application.ports.audit_log import Row
from domain.payment_terms import PaymentStatus

ENTRIES_MAX = 1_000


class AccountEntry(msgspec.Struct, frozen=True):
    """One posting on an account, with the balance it left."""

    position: int
    posted_at: datetime
    transaction_id: UUID
    kind: str
    amount: int
    balance_after: int
    description: str


class AuditPaymentStep(msgspec.Struct, frozen=True):
    """One transition of a payment as the log recorded it."""

    position: int
    status: PaymentStatus
    reason: str
    at: datetime


class PaymentPosting(msgspec.Struct, frozen=True):
    """A journal transaction that moved the payment's money (`amount`: what was captured,
    or given back for a refund)."""

    position: int
    transaction_id: UUID
    kind: str
    amount: int


def _after(timestamp: datetime, at: datetime | None) -> bool:
    return at is not None and timestamp > at


@dataclass
class AccountFold:
    """Balance and latest entries of one ledger account (wallet or system/payee account).

    A wallet's entries come from its own `Account.Posted` events; any other account's from
    the journal postings that name it (found by a byte search before decoding)."""

    account_id: UUID
    at: datetime | None = None
    entries_max: int = 100
    account: str = ""
    currency: str = ""
    balance: int = 0
    entries_total: int = 0
    last_position: int = 0
    is_wallet: bool = False
    entries: deque[AccountEntry] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=min(max(self.entries_max, 0), ENTRIES_MAX))
        self._needle = str(self.account_id).encode()
        self._key = self.account_id.bytes

    @property
    def found(self) -> bool:
        return bool(self.account)

    def apply(self, record: Row) -> None:
        position, key, _, topic, state = record
        if key == self._key:
            if topic == d.OPENED:
                event = d.opened(state)
                if not _after(event.timestamp, self.at):
                    self.is_wallet = True
                    self.account = f"wallet:{event.customer_id}"
                    self.currency = event.currency
            elif topic == d.POSTED:
                posted = d.posted(state)
                if not _after(posted.timestamp, self.at):
                    self.balance = posted.balance_after_minor
                    self._add(position, posted, posted.amount_minor)
        elif topic == d.RECORDED and not self.is_wallet and self._needle in state:
            journal = d.recorded(state)
            if _after(journal.timestamp, self.at):
                return
            for leg in journal.postings:
                if leg.account_id == self.account_id:
                    self.account, self.currency = leg.account_code, leg.currency
                    self.balance += leg.amount_minor
                    self._add(position, journal, leg.amount_minor, UUID(bytes=key))

    def _add(
        self,
        position: int,
        event: d.Posted | d.Recorded,
        amount: int,
        transaction_id: UUID | None = None,
    ) -> None:
        tid = event.transaction_id if isinstance(event, d.Posted) else transaction_id
        assert tid is not None
        self.entries_total += 1
        self.last_position = position
        self.entries.append(
            AccountEntry(
                position, event.timestamp, tid, event.kind, amount, self.balance, event.description
            )
        )


@dataclass
class PaymentFold:
    """One payment's state, its transitions, and the journal transactions that name it."""

    payment_id: UUID
    at: datetime | None = None
    status: PaymentStatus | None = None
    amount: int = 0
    currency: str = ""
    payer_id: str = ""
    recipient: str = ""
    method: str = ""
    failure_reason: str = ""
    attempts: int = 0
    captured: int = 0
    refunded: int = 0
    last_position: int = 0
    history: list[AuditPaymentStep] = field(default_factory=list)
    postings: list[PaymentPosting] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._needle = str(self.payment_id).encode()
        self._key = self.payment_id.bytes

    def apply(self, record: Row) -> None:
        position, key, _, topic, state = record
        if key == self._key:
            if topic in d.PAYMENT_TOPICS:
                self._apply_own(position, topic, state)
        elif topic == d.RECORDED and self._needle in state:
            journal = d.recorded(state)
            if journal.reference != str(self.payment_id) or _after(journal.timestamp, self.at):
                return
            amount = journal_amount(journal)
            if amount is not None:
                self.postings.append(
                    PaymentPosting(position, UUID(bytes=key), journal.kind, amount)
                )

    def _apply_own(self, position: int, topic: str, state: bytes) -> None:
        if topic == d.PAYMENT_CREATED:
            created = d.payment_created(state)
            if _after(created.timestamp, self.at):
                return
            self.amount, self.currency = created.amount_minor, created.currency
            self.payer_id, self.recipient = created.payer_id, created.recipient
            self.method = created.method
            self._step(position, PaymentStatus.CREATED, "requested", created.timestamp)
        elif topic == d.PAYMENT_SUCCEEDED:
            done = d.succeeded(state)
            if not _after(done.timestamp, self.at):
                self.captured = sum(a.amount_minor for a in done.allocations)
                self._step(position, PaymentStatus.SUCCESS, "captured", done.at)
        elif topic == d.PAYMENT_REFUNDED:
            back = d.refunded(state)
            if not _after(back.timestamp, self.at):
                self.refunded += back.amount_minor
                whole = self.refunded >= self.captured
                status = PaymentStatus.REFUNDED if whole else PaymentStatus.PARTIALLY_REFUNDED
                self._step(position, status, "refunded", back.at)
        else:
            change = d.status_changed(state)
            if _after(change.timestamp, self.at):
                return
            if topic == d.PAYMENT_STARTED:
                self.attempts += 1
                self._step(position, PaymentStatus.PROCESSING, change.reason, change.at)
            else:  # rejected or failed
                self.failure_reason = change.reason
                self._step(position, PaymentStatus.FAILED, change.reason, change.at)

    def _step(self, position: int, status: PaymentStatus, reason: str, at: datetime) -> None:
        self.status = status
        self.last_position = position
        self.history.append(AuditPaymentStep(position, status, reason, at))


def journal_amount(journal: d.Recorded | d.Journal) -> int | None:
    """What a payment's journal transaction moved: the payees' credits of a capture, the
    payees' give-back of a refund; None for other kinds."""
    if journal.kind == "payment":
        return sum(leg.amount_minor for leg in journal.postings if leg.amount_minor > 0)
    if journal.kind == "refund":
        return -sum(leg.amount_minor for leg in journal.postings if leg.amount_minor < 0)
    return None
