"""Domain events to integration events (`application/integration_events.py`).

`to_integration_event` maps one domain event to its contract, or None: users, schools, trips,
holds' own aggregate, idempotency claims and the like are not published. It is stateless: it
sees one event, never the aggregate, so a contract carries what its domain event carries
(payment events after `payments.created` name the payment by id only). `message_id` is the
deterministic id a message is published and deduplicated under.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.integration_events import (
    IntegrationEvent,
    PayeeAmount,
    PaymentCreated,
    PaymentFailed,
    PaymentProcessing,
    PaymentRefunded,
    PaymentRefundFailed,
    PaymentRefundRequested,
    PaymentSucceeded,
    RegistrationBooked,
    RegistrationCancelled,
    RegistrationConfirmed,
    RegistrationReleased,
    SplitPart,
    WalletCredited,
    WalletDebited,
    WalletHoldPlaced,
    WalletHoldReleased,
    WalletOpened,
)
from domain.account import Account
from domain.payment import Payment
from domain.registration import Registration


def message_id(event: Any) -> str:
    """The deterministic id of a domain event: `<aggregate id>:<aggregate version>`."""
    return f"{event.originator_id}:{event.originator_version}"


Envelope = dict[str, Any]
_Mapper = Callable[[Any, Envelope], IntegrationEvent]


def _envelope(event: Any, position: int) -> Envelope:
    return {"id": message_id(event), "position": position, "occurred_at": event.timestamp}


def _payment_created(e: Payment.Created, env: Envelope) -> IntegrationEvent:
    return PaymentCreated(
        **env,
        payment_id=e.originator_id,
        payer_id=e.payer_id,
        owner_id=e.owner_id,
        recipient=e.recipient,
        amount_minor=e.amount_minor,
        currency=e.currency,
        method=e.method,
        description=e.description,
        reference=e.reference,
        wallet_share_minor=e.wallet_share_minor,
        splits=[SplitPart(s.payee, s.bps, s.amount_minor) for s in e.splits],
    )


def _allocations(allocations: Any) -> list[PayeeAmount]:
    return [PayeeAmount(a.payee, a.amount_minor) for a in allocations]


def _posted(e: Account.Posted, env: Envelope) -> IntegrationEvent:
    contract = WalletCredited if e.amount_minor >= 0 else WalletDebited
    return contract(
        **env,
        wallet_id=e.originator_id,
        transaction_id=e.transaction_id,
        amount_minor=abs(e.amount_minor),
        balance_after_minor=e.balance_after_minor,
        kind=e.kind,
        description=e.description,
    )


_MAPPERS: dict[type[Any], _Mapper] = {
    Payment.Created: _payment_created,
    Payment.Rejected: lambda e, env: PaymentFailed(
        **env, payment_id=e.originator_id, reason=e.reason, retryable=False, gateway_reference=""
    ),
    Payment.ProcessingStarted: lambda e, env: PaymentProcessing(
        **env, payment_id=e.originator_id, attempt=e.attempt, reason=e.reason
    ),
    Payment.Succeeded: lambda e, env: PaymentSucceeded(
        **env,
        payment_id=e.originator_id,
        transaction_id=e.transaction_id,
        gateway_reference=e.gateway_reference,
        allocations=_allocations(e.allocations),
    ),
    Payment.Failed: lambda e, env: PaymentFailed(
        **env,
        payment_id=e.originator_id,
        reason=e.reason,
        retryable=e.retryable,
        gateway_reference=e.gateway_reference,
    ),
    Payment.RefundRequested: lambda e, env: PaymentRefundRequested(
        **env,
        payment_id=e.originator_id,
        refund_id=e.refund_id,
        amount_minor=e.amount_minor,
        reason=e.reason,
    ),
    Payment.RefundFailed: lambda e, env: PaymentRefundFailed(
        **env, payment_id=e.originator_id, refund_id=e.refund_id, failure_code=e.failure_code
    ),
    Payment.Refunded: lambda e, env: PaymentRefunded(
        **env,
        payment_id=e.originator_id,
        refund_id=e.refund_id,
        amount_minor=e.amount_minor,
        transaction_id=e.transaction_id,
        reason=e.reason,
        gateway_reference=e.gateway_reference,
        allocations=_allocations(e.allocations),
    ),
    Account.Opened: lambda e, env: WalletOpened(
        **env,
        wallet_id=e.originator_id,
        customer_id=e.customer_id,
        currency=e.currency,
        overdraft_limit_minor=e.overdraft_limit_minor,
    ),
    Account.Posted: _posted,
    Account.HoldPlaced: lambda e, env: WalletHoldPlaced(
        **env,
        wallet_id=e.originator_id,
        hold_id=e.hold_id,
        amount_minor=e.amount_minor,
        expires_at=e.expires_at,
    ),
    Account.HoldReleased: lambda e, env: WalletHoldReleased(
        **env,
        wallet_id=e.originator_id,
        hold_id=e.hold_id,
        amount_minor=e.amount_minor,
        reason=e.reason,
    ),
    Registration.Booked: lambda e, env: RegistrationBooked(
        **env,
        registration_id=e.originator_id,
        trip_id=e.trip_id,
        parent_id=e.parent_id,
        price_minor=e.price_minor,
        currency=e.currency,
    ),
    Registration.Confirmed: lambda e, env: RegistrationConfirmed(
        **env, registration_id=e.originator_id, payment_id=e.payment_id
    ),
    Registration.Released: lambda e, env: RegistrationReleased(
        **env, registration_id=e.originator_id, reason=e.reason
    ),
    Registration.Cancelled: lambda e, env: RegistrationCancelled(
        **env, registration_id=e.originator_id, reason=e.reason, refund_minor=e.refund_minor
    ),
}


def to_integration_event(event: Any, position: int) -> IntegrationEvent | None:
    """The contract a domain event is published as, or None when it is not published."""
    mapper = _MAPPERS.get(type(event))
    if mapper is None:
        return None
    return mapper(event, _envelope(event, position))
