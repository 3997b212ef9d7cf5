"""The webhook dispatcher: a follower of the log that turns payment events into deliveries.

It never runs inside a command: a `ProjectionRunner` feeds it the log in order, and each
event's deliveries are written with the event's tracking record in one transaction, so an
event is dispatched exactly once however often the runner restarts. The payload is the
payment as it stood right after the event (the aggregate at that version), so a delivery
made late, or replayed, still tells what happened then.

Who gets what: the endpoints of the payment's payer and owner that subscribe to the event
type, and every global endpoint (configuration) that does.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import Projection

from application import presenters
from application.ports.clock import Clock
from application.ports.webhooks import OutboundMessage, WebhookStore
from application.webhook_results import WebhookEventType
from domain.payment import Payment
from domain.payment_terms import PaymentMethod

STATUS_CHANGED = WebhookEventType.PAYMENT_STATUS_CHANGED
REFUNDED = WebhookEventType.PAYMENT_REFUNDED
CHARGE_SUCCEEDED = WebhookEventType.CHARGE_SUCCEEDED
CHARGE_FAILED = WebhookEventType.CHARGE_FAILED

PaymentLoader = Callable[[UUID, int], Payment]  # the payment at a version


class Envelope(msgspec.Struct, frozen=True):
    """Every webhook body: Standard Webhooks' `type`, `timestamp`, `data`, and our `id`
    (the `webhook-id` header) and the log position of the event."""

    id: str
    type: str
    timestamp: datetime
    position: int
    data: Any


class SplitInstruction(msgspec.Struct, frozen=True):
    payee: str
    bps: int | None
    amount: int | None


class ChargeMetadata(msgspec.Struct, frozen=True):
    payer_id: str
    owner_id: str
    reference: str
    description: str
    method: str


class ChargeData(msgspec.Struct, frozen=True):
    """Seed 003's charge event: the charge, its split instructions and metadata."""

    charge: Any
    split_instructions: list[SplitInstruction]
    metadata: ChargeMetadata


class RefundData(msgspec.Struct, frozen=True):
    """A completed refund and the payment after it."""

    refund_id: UUID
    amount: int
    currency: str
    reason: str
    payment: Any


# The events that change a payment's status, and the charge event each also makes for a
# wallet-first payment.
_STATUS_EVENTS: dict[type[Any], WebhookEventType | None] = {
    Payment.Created: None,
    Payment.ProcessingStarted: None,
    Payment.Rejected: CHARGE_FAILED,
    Payment.Failed: CHARGE_FAILED,
    Payment.Succeeded: CHARGE_SUCCEEDED,
}


def message_id(payment_id: UUID, version: int, event_type: WebhookEventType) -> str:
    """The `webhook-id` of one event type about one payment event: deterministic, so a
    rebuilt dispatcher sends the same ids and receivers can deduplicate."""
    return "msg_" + uuid.uuid5(payment_id, f"{event_type}@{version}").hex


class WebhookDispatcher(Projection[Any]):
    """Payment events -> deliveries (see the module)."""

    name = "webhook_dispatcher"
    topics = ()

    def __init__(
        self,
        view: WebhookStore,
        load_payment: PaymentLoader,
        clock: Clock,
        horizon_s: float,
    ) -> None:
        super().__init__(view=view)
        self.store: WebhookStore = view
        self.load_payment = load_payment
        self.clock = clock
        self.horizon_s = horizon_s

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, items: Sequence[tuple[Any, Tracking]]) -> None:
        """The deliveries of a run of events, written with the last one's tracking record
        in one transaction. Each payment is read from the log once a batch, at the version
        of its first event here; its later events here are applied to it in memory."""
        if not items:
            return
        messages: list[OutboundMessage] = []
        payments: dict[UUID, Payment] = {}
        for event, tracking in items:
            if isinstance(event, Payment.Event):
                messages.extend(self._messages_of(event, tracking, payments))
        self.store.record_messages(messages, items[-1][1], self.clock.now(), self.horizon_s)

    def _messages_of(
        self, event: Payment.Event, tracking: Tracking, payments: dict[UUID, Payment]
    ) -> list[OutboundMessage]:
        kind = type(event)
        if kind not in _STATUS_EVENTS and kind is not Payment.Refunded:
            self._follow(event, payments)  # no message, but later ones need the state
            return []
        paid = self._at(event, payments)
        if kind is Payment.Refunded:
            assert isinstance(event, Payment.Refunded)
            refund = RefundData(
                event.refund_id,
                event.amount_minor,
                paid.currency,
                event.reason,
                presenters.payment(paid),
            )
            return [
                self._message(paid, event, STATUS_CHANGED, presenters.payment(paid), tracking),
                self._message(paid, event, REFUNDED, refund, tracking),
            ]
        messages = [self._message(paid, event, STATUS_CHANGED, presenters.payment(paid), tracking)]
        charge = _STATUS_EVENTS[kind]
        if charge is not None and paid.method == PaymentMethod.WALLET_FIRST:
            messages.append(self._message(paid, event, charge, charge_data(paid), tracking))
        return messages

    def _at(self, event: Payment.Event, payments: dict[UUID, Payment]) -> Payment:
        """The payment right after `event`: folded in memory from this batch's earlier
        state of it, else read from the log at that version."""
        paid = self._follow(event, payments)
        if paid is None:
            paid = payments[event.originator_id] = self.load_payment(
                event.originator_id, event.originator_version
            )
        return paid

    @staticmethod
    def _follow(event: Payment.Event, payments: dict[UUID, Payment]) -> Payment | None:
        """Apply `event` to the payment's state held for this batch, if that state is the
        one just before it (else forget it); the state after it, or None."""
        held = payments.pop(event.originator_id, None)
        if held is None or held.version != event.originator_version - 1:
            return None
        project_aggregate(held, [event])
        payments[event.originator_id] = held
        return held

    @staticmethod
    def _message(
        paid: Payment,
        event: Aggregate.Event,
        event_type: WebhookEventType,
        data: Any,
        tracking: Tracking,
    ) -> OutboundMessage:
        identifier = message_id(event.originator_id, event.originator_version, event_type)
        envelope = Envelope(
            identifier, str(event_type), paid.updated_at, tracking.notification_id, data
        )
        return OutboundMessage(
            message_id=identifier,
            event_type=event_type,
            payload=msgspec.json.encode(envelope),
            customer_ids=tuple(dict.fromkeys(c for c in (paid.payer_id, paid.owner_id) if c)),
            position=tracking.notification_id,
        )


def start_at_log_end(store: WebhookStore, application_name: str, log_end: int | None) -> None:
    """A dispatcher that has never run starts at the end of the log, not its beginning: the
    events before webhooks existed were never promised to anyone (and would flood the global
    endpoints with years of history). A replica that got there first wins; nothing changes."""
    if log_end is None or store.max_tracking_id(application_name) is not None:
        return
    with contextlib.suppress(IntegrityError):
        store.insert_tracking(Tracking(application_name, log_end))


def charge_data(paid: Payment) -> ChargeData:
    return ChargeData(
        charge=presenters.charge(paid),
        split_instructions=[SplitInstruction(s.payee, s.bps, s.amount_minor) for s in paid.splits],
        metadata=ChargeMetadata(
            payer_id=paid.payer_id,
            owner_id=paid.owner_id,
            reference=paid.reference,
            description=paid.description,
            method=str(paid.method),
        ),
    )
