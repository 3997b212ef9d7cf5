"""Charge: take an amount from the customer's wallet first and the rest from a card.

The wallet part is reserved with a hold while the card is charged: if the card fails the
hold is voided (no debit-then-refund), if it succeeds the hold is captured, in one save
with the journal transaction of the whole amount.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidPaymentTransitionError
from domain.splits import Allocation, Split, allocate

PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


class Charge(Aggregate):
    """How much came from each source, and how it ended."""

    class Created(Aggregate.Created):
        customer_id: str
        recipient: str
        amount_minor: int
        currency: str
        wallet_minor: int
        card_minor: int
        hold_id: UUID | None
        card_token: str
        card_brand: str
        card_last4: str
        description: str
        splits: tuple[Split, ...]
        request_digest: str

    class Succeeded(Aggregate.Event):
        transaction_id: UUID
        gateway_reference: str
        allocations: tuple[Allocation, ...]

    class Failed(Aggregate.Event):
        reason: str
        gateway_reference: str

    @classmethod
    def create(
        cls,
        charge_id: UUID,
        customer_id: str,
        recipient: str,
        amount_minor: int,
        currency: str,
        wallet_minor: int,
        hold_id: UUID | None,
        card_token: str,
        card_brand: str,
        card_last4: str,
        description: str,
        splits: tuple[Split, ...],
        request_digest: str,
    ) -> Charge:
        assert 0 <= wallet_minor <= amount_minor
        return cls._create(
            cls.Created,
            id=charge_id,
            customer_id=customer_id,
            recipient=recipient,
            amount_minor=amount_minor,
            currency=currency,
            wallet_minor=wallet_minor,
            card_minor=amount_minor - wallet_minor,
            hold_id=hold_id,
            card_token=card_token,
            card_brand=card_brand,
            card_last4=card_last4,
            description=description,
            splits=splits,
            request_digest=request_digest,
        )

    @event(Created)
    def __init__(
        self,
        customer_id: str,
        recipient: str,
        amount_minor: int,
        currency: str,
        wallet_minor: int,
        card_minor: int,
        hold_id: UUID | None,
        card_token: str,
        card_brand: str,
        card_last4: str,
        description: str,
        splits: tuple[Split, ...],
        request_digest: str,
    ) -> None:
        self.customer_id = customer_id
        self.recipient = recipient
        self.amount_minor = amount_minor
        self.currency = currency
        self.wallet_minor = wallet_minor
        self.card_minor = card_minor
        self.hold_id = hold_id
        self.card_token = card_token
        self.card_brand = card_brand
        self.card_last4 = card_last4
        self.description = description
        self.splits = splits
        self.request_digest = request_digest
        self.status = PENDING
        self.failure_reason = ""
        self.gateway_reference = ""
        self.transaction_id: UUID | None = None
        self.allocations: tuple[Allocation, ...] = ()

    def plan_capture(self) -> tuple[Allocation, ...]:
        self._require_pending()
        return allocate(self.amount_minor, self.splits, self.recipient)

    def succeed(self, transaction_id: UUID, gateway_reference: str) -> None:
        self._succeed(transaction_id, gateway_reference, self.plan_capture())

    def fail(self, reason: str, gateway_reference: str = "") -> None:
        self._require_pending()
        self._fail(reason, gateway_reference)

    def _require_pending(self) -> None:
        if self.status != PENDING:
            raise InvalidPaymentTransitionError(f"The charge is already {self.status}.")

    @event(Succeeded)
    def _succeed(
        self, transaction_id: UUID, gateway_reference: str, allocations: tuple[Allocation, ...]
    ) -> None:
        self.status = SUCCEEDED
        self.transaction_id = transaction_id
        self.gateway_reference = gateway_reference
        self.allocations = allocations

    @event(Failed)
    def _fail(self, reason: str, gateway_reference: str) -> None:
        self.status = FAILED
        self.failure_reason = reason
        self.gateway_reference = gateway_reference
