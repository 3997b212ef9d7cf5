"""Integration events: the versioned contracts PayLedger publishes for other services.

They are not the domain events. Domain events are the log's private vocabulary and change
with the model (upcast on read); these are a public promise: a field is never removed or
changes meaning within a `version`, and new optional fields may be added. Each contract is a
msgspec Struct tagged by `type` (also the end of its subject: `payledger.payments.succeeded`)
and carries the envelope every consumer needs:

- `id`: deterministic, `<aggregate id>:<aggregate version>` of the domain event it comes
  from; the relay sends it as `Nats-Msg-Id`, so a re-publish is dropped by the stream's
  duplicate window, and consumers can deduplicate on it beyond that window;
- `position`: the event's position in PayLedger's log (totally ordered, with gaps);
- `occurred_at`: when the domain event happened; `version`: of this contract.

`application/integration_mapping.py` maps domain events to these contracts. No card token,
fingerprint, request digest or student name leaves the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

SUBJECT_PREFIX = "payledger"


class IntegrationEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """The envelope of every contract (see the module)."""

    id: str
    position: int
    occurred_at: datetime
    version: int = 1

    @property
    def type(self) -> str:
        """`payments.succeeded`: the contract's tag."""
        return str(self.__struct_config__.tag)


class SplitPart(msgspec.Struct, frozen=True):
    """A payee's share of a payment: fixed minor units or basis points of the rest."""

    payee: str
    bps: int | None = None
    amount_minor: int | None = None


class PayeeAmount(msgspec.Struct, frozen=True):
    """Minor units that went (or went back) to one payee."""

    payee: str
    amount_minor: int


# Payments.


class PaymentCreated(IntegrationEvent, frozen=True, kw_only=True, tag="payments.created"):
    """A payment was requested (it is processed next, or failed at once: see `failed`)."""

    payment_id: UUID
    payer_id: str
    owner_id: str
    recipient: str
    amount_minor: int
    currency: str
    method: str
    description: str
    reference: str
    wallet_share_minor: int
    splits: list[SplitPart]


class PaymentProcessing(IntegrationEvent, frozen=True, kw_only=True, tag="payments.processing"):
    """An attempt at the gateway started (`attempt` 1, then retries)."""

    payment_id: UUID
    attempt: int
    reason: str


class PaymentSucceeded(IntegrationEvent, frozen=True, kw_only=True, tag="payments.succeeded"):
    """The payment was captured and posted to the ledger (`transaction_id`)."""

    payment_id: UUID
    transaction_id: UUID
    gateway_reference: str
    allocations: list[PayeeAmount]


class PaymentFailed(IntegrationEvent, frozen=True, kw_only=True, tag="payments.failed"):
    """The payment failed: refused by a rule (`retryable` false) or by the gateway."""

    payment_id: UUID
    reason: str
    retryable: bool
    gateway_reference: str


class PaymentRefundRequested(
    IntegrationEvent, frozen=True, kw_only=True, tag="payments.refund_requested"
):
    """A (partial) refund was asked for."""

    payment_id: UUID
    refund_id: UUID
    amount_minor: int
    reason: str


class PaymentRefundFailed(
    IntegrationEvent, frozen=True, kw_only=True, tag="payments.refund_failed"
):
    """The gateway refused a refund."""

    payment_id: UUID
    refund_id: UUID
    failure_code: str


class PaymentRefunded(IntegrationEvent, frozen=True, kw_only=True, tag="payments.refunded"):
    """A refund was paid back and posted to the ledger."""

    payment_id: UUID
    refund_id: UUID
    amount_minor: int
    transaction_id: UUID
    reason: str
    gateway_reference: str
    allocations: list[PayeeAmount]


# Wallets.


class WalletOpened(IntegrationEvent, frozen=True, kw_only=True, tag="wallets.opened"):
    """A customer's wallet in one currency was opened."""

    wallet_id: UUID
    customer_id: str
    currency: str
    overdraft_limit_minor: int


class WalletCredited(IntegrationEvent, frozen=True, kw_only=True, tag="wallets.credited"):
    """Money was added to a wallet (`amount_minor` > 0)."""

    wallet_id: UUID
    transaction_id: UUID
    amount_minor: int
    balance_after_minor: int
    kind: str
    description: str


class WalletDebited(IntegrationEvent, frozen=True, kw_only=True, tag="wallets.debited"):
    """Money was taken from a wallet (`amount_minor` > 0: the amount taken)."""

    wallet_id: UUID
    transaction_id: UUID
    amount_minor: int
    balance_after_minor: int
    kind: str
    description: str


class WalletHoldPlaced(IntegrationEvent, frozen=True, kw_only=True, tag="wallets.hold_placed"):
    """Money on a wallet was reserved."""

    wallet_id: UUID
    hold_id: UUID
    amount_minor: int
    expires_at: datetime | None


class WalletHoldReleased(IntegrationEvent, frozen=True, kw_only=True, tag="wallets.hold_released"):
    """A hold ended (`posted`, `expired`, or another reason)."""

    wallet_id: UUID
    hold_id: UUID
    amount_minor: int
    reason: str


# Registrations (seed 000).


class RegistrationBooked(IntegrationEvent, frozen=True, kw_only=True, tag="registrations.booked"):
    """A seat on a trip is held for a student while the payment is processed."""

    registration_id: UUID
    trip_id: UUID
    parent_id: str
    price_minor: int
    currency: str


class RegistrationConfirmed(
    IntegrationEvent, frozen=True, kw_only=True, tag="registrations.confirmed"
):
    """The registration was paid: the seat is the student's."""

    registration_id: UUID
    payment_id: UUID


class RegistrationReleased(
    IntegrationEvent, frozen=True, kw_only=True, tag="registrations.released"
):
    """The seat was given back before payment (payment failed, or the hold lapsed)."""

    registration_id: UUID
    reason: str


class RegistrationCancelled(
    IntegrationEvent, frozen=True, kw_only=True, tag="registrations.cancelled"
):
    """The parent cancelled; `refund_minor` follows the cancellation policy."""

    registration_id: UUID
    reason: str
    refund_minor: int


CONTRACTS: tuple[type[IntegrationEvent], ...] = (
    PaymentCreated,
    PaymentProcessing,
    PaymentSucceeded,
    PaymentFailed,
    PaymentRefundRequested,
    PaymentRefundFailed,
    PaymentRefunded,
    WalletOpened,
    WalletCredited,
    WalletDebited,
    WalletHoldPlaced,
    WalletHoldReleased,
    RegistrationBooked,
    RegistrationConfirmed,
    RegistrationReleased,
    RegistrationCancelled,
)

AnyIntegrationEvent = (
    PaymentCreated
    | PaymentProcessing
    | PaymentSucceeded
    | PaymentFailed
    | PaymentRefundRequested
    | PaymentRefundFailed
    | PaymentRefunded
    | WalletOpened
    | WalletCredited
    | WalletDebited
    | WalletHoldPlaced
    | WalletHoldReleased
    | RegistrationBooked
    | RegistrationConfirmed
    | RegistrationReleased
    | RegistrationCancelled
)


def subject_of(integration_event: IntegrationEvent, prefix: str = SUBJECT_PREFIX) -> str:
    """`payledger.payments.succeeded`."""
    return f"{prefix}.{integration_event.type}"


def encode(integration_event: IntegrationEvent) -> bytes:
    """The message body: JSON, with `type` first."""
    return msgspec.json.encode(integration_event)


_DECODER = msgspec.json.Decoder(AnyIntegrationEvent)


def decode(body: bytes) -> IntegrationEvent:
    """A message body back to its contract (unknown `type`: `msgspec.ValidationError`)."""
    decoded: IntegrationEvent = _DECODER.decode(body)
    return decoded


def json_schema() -> dict[str, Any]:
    """The machine-readable schema of every contract (checked in as docs/events.schema.json)."""
    schema: dict[str, Any] = msgspec.json.schema(AnyIntegrationEvent)
    schema["title"] = "PayLedger integration events"
    schema["description"] = (
        "Messages on NATS subjects payledger.<type>; the body's `type` names the contract, "
        "`id` equals the Nats-Msg-Id header, `position` the event's place in the log."
    )
    return schema
