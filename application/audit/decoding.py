"""Lean msgspec decoders for the events a replay folds: only the fields it needs.

The stored state is the msgspec JSON of the event's attributes (see
`adapters/eventstore/msgspec_mapper.py`); decoding a few fields into a small Struct skips the
rest of the object, which is what makes a replay fast. Older class versions lack some fields:
every field that was added later has a default here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from domain.account import Account
from domain.journal import JournalTransaction
from domain.payment import Payment

OPENED = get_topic(Account.Opened)
POSTED = get_topic(Account.Posted)
RECORDED = get_topic(JournalTransaction.Recorded)
PAYMENT_CREATED = get_topic(Payment.Created)
PAYMENT_REJECTED = get_topic(Payment.Rejected)
PAYMENT_STARTED = get_topic(Payment.ProcessingStarted)
PAYMENT_SUCCEEDED = get_topic(Payment.Succeeded)
PAYMENT_FAILED = get_topic(Payment.Failed)
PAYMENT_REFUNDED = get_topic(Payment.Refunded)
PAYMENT_TOPICS = frozenset(
    {
        PAYMENT_CREATED,
        PAYMENT_REJECTED,
        PAYMENT_STARTED,
        PAYMENT_SUCCEEDED,
        PAYMENT_FAILED,
        PAYMENT_REFUNDED,
    }
)


class Stamp(msgspec.Struct):
    timestamp: datetime


class Opened(msgspec.Struct):
    timestamp: datetime
    customer_id: str
    currency: str


class Posted(msgspec.Struct):
    timestamp: datetime
    transaction_id: UUID
    amount_minor: int
    balance_after_minor: int
    kind: str
    description: str


class Leg(msgspec.Struct):
    account_id: UUID
    account_code: str
    amount_minor: int
    currency: str


class Recorded(msgspec.Struct):
    timestamp: datetime
    kind: str
    postings: list[Leg]
    description: str
    reference: str = ""


class Allocation(msgspec.Struct):
    payee: str
    amount_minor: int


class PaymentCreated(msgspec.Struct):
    timestamp: datetime
    payer_id: str
    recipient: str
    amount_minor: int
    currency: str
    method: str


class StatusChanged(msgspec.Struct):
    """Rejected, ProcessingStarted and Failed: a new status with a reason."""

    timestamp: datetime
    at: datetime
    reason: str = ""


class Succeeded(msgspec.Struct):
    timestamp: datetime
    at: datetime
    transaction_id: UUID
    allocations: list[Allocation]


class Refunded(msgspec.Struct):
    timestamp: datetime
    at: datetime
    amount_minor: int
    transaction_id: UUID


class Amounts(msgspec.Struct):
    """Verification's view of a wallet posting (no times, no ids)."""

    amount_minor: int
    balance_after_minor: int


class KeyLeg(msgspec.Struct):
    account_id: str
    amount_minor: int
    currency: str


class Journal(msgspec.Struct):
    """Verification's view of a journal transaction."""

    kind: str
    postings: list[KeyLeg]
    reference: str = ""


class Amount(msgspec.Struct):
    amount_minor: int


class Captured(msgspec.Struct):
    allocations: list[Allocation]


stamp = msgspec.json.Decoder(Stamp).decode
amounts = msgspec.json.Decoder(Amounts).decode
journal = msgspec.json.Decoder(Journal).decode
amount = msgspec.json.Decoder(Amount).decode
captured = msgspec.json.Decoder(Captured).decode
opened = msgspec.json.Decoder(Opened).decode
posted = msgspec.json.Decoder(Posted).decode
recorded = msgspec.json.Decoder(Recorded).decode
payment_created = msgspec.json.Decoder(PaymentCreated).decode
status_changed = msgspec.json.Decoder(StatusChanged).decode
succeeded = msgspec.json.Decoder(Succeeded).decode
refunded = msgspec.json.Decoder(Refunded).decode
