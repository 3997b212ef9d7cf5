"""Payment: a state machine whose every transition is an event with a reason.

CREATED -> PROCESSING -> SUCCESS | FAILED; FAILED -> PROCESSING (retry, transient failures
only); SUCCESS -> PARTIALLY_REFUNDED -> REFUNDED. A request that breaks a rule is recorded
as FAILED straight away, so auditors see every attempt.

A payment is funded by a wallet, a card, or both (`wallet_first`, seed 003's charges): the
wallet pays what it can, reserved by a hold until the card has paid the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    InvalidPaymentTransitionError,
    PaymentNotRetryableError,
    RetryLimitReachedError,
)
from domain.payment_terms import (
    GATEWAY_FUNDED,
    RETRYABLE_METHODS,
    PaymentMethod,
    PaymentStatus,
    RefundSplit,
    Transition,
)
from domain.refund_book import RefundBook, RefundPlan
from domain.splits import Allocation, Split, allocate
from domain.text import (
    CURRENCY_TEXT_LENGTH_MAX,
    DESCRIPTION_LENGTH_MAX,
    PARTY_LENGTH_MAX,
    REASON_LENGTH_MAX,
    TOKEN_LENGTH_MAX,
    check_text,
)

CREATED = PaymentStatus.CREATED
PROCESSING = PaymentStatus.PROCESSING
SUCCESS = PaymentStatus.SUCCESS
FAILED = PaymentStatus.FAILED
PARTIALLY_REFUNDED = PaymentStatus.PARTIALLY_REFUNDED
REFUNDED = PaymentStatus.REFUNDED


class Payment(Aggregate):
    """A payment from a payer to a recipient, maybe split between payees."""

    class Created(Aggregate.Created):
        # v2 added how much of a wallet-first payment the wallet pays, and its hold; v3 who
        # asked for the payment (its owner) and what it pays for (e.g. a registration).
        class_version = 3
        payer_id: str
        recipient: str
        amount_minor: int
        currency: str
        method: str
        card_token: str
        card_brand: str
        card_last4: str
        description: str
        splits: tuple[Split, ...]
        request_digest: str
        requested_at: datetime
        wallet_share_minor: int
        hold_id: UUID | None
        owner_id: str
        reference: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["wallet_share_minor"] = 0
            state["hold_id"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["owner_id"] = state["payer_id"]  # before owners, a payer owned its payment
            state["reference"] = ""

    class Rejected(Aggregate.Event):
        at: datetime
        reason: str

    class ProcessingStarted(Aggregate.Event):
        at: datetime
        attempt: int
        gateway_key: str
        reason: str

    class Succeeded(Aggregate.Event):
        at: datetime
        transaction_id: UUID
        gateway_reference: str
        allocations: tuple[Allocation, ...]

    class Failed(Aggregate.Event):
        at: datetime
        reason: str
        retryable: bool
        gateway_reference: str

    class RefundRequested(Aggregate.Event):
        # v2 added the part that goes back to the card (None: by method, as before).
        class_version = 2
        at: datetime
        refund_id: UUID
        amount_minor: int
        reason: str
        request_digest: str
        card_minor: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["card_minor"] = None

    class RefundFailed(Aggregate.Event):
        at: datetime
        refund_id: UUID
        failure_code: str

    class Refunded(Aggregate.Event):
        at: datetime
        refund_id: UUID
        amount_minor: int
        transaction_id: UUID
        reason: str
        allocations: tuple[Allocation, ...]
        gateway_reference: str

    @classmethod
    def create(
        cls,
        payment_id: UUID,
        payer_id: str,
        recipient: str,
        amount_minor: int,
        currency: str,
        method: PaymentMethod,
        description: str,
        splits: tuple[Split, ...],
        request_digest: str,
        requested_at: datetime,
        card_token: str = "",
        card_brand: str = "",
        card_last4: str = "",
        wallet_share_minor: int = 0,
        hold_id: UUID | None = None,
        owner_id: str = "",
        reference: str = "",
    ) -> Payment:
        """Record the request as made; rules are applied by `reject` or `start_processing`.
        Only a wallet-first payment has a wallet share (0 to the amount) and maybe a hold.
        Text that cannot be recorded (see `check_request_text`) is refused, not recorded."""
        cls.check_request_text(payer_id, recipient, currency, description, splits, card_token)
        if method == PaymentMethod.WALLET_FIRST:
            assert 0 <= wallet_share_minor <= amount_minor
        else:
            assert wallet_share_minor == 0
            assert hold_id is None
        return cls._create(
            cls.Created,
            id=payment_id,
            payer_id=payer_id,
            recipient=recipient,
            amount_minor=amount_minor,
            currency=currency,
            method=str(method),
            card_token=card_token,
            card_brand=card_brand,
            card_last4=card_last4,
            description=description,
            splits=splits,
            request_digest=request_digest,
            requested_at=requested_at,
            wallet_share_minor=wallet_share_minor,
            hold_id=hold_id,
            owner_id=owner_id,
            reference=reference,
        )

    @staticmethod
    def check_request_text(
        payer_id: str,
        recipient: str,
        currency: str,
        description: str,
        splits: tuple[Split, ...],
        card_token: str,
    ) -> None:
        """Raise if a request's text cannot be recorded (control characters, card numbers,
        over-long values). Empty values and unknown currencies can: the rules record such
        a request as FAILED."""
        check_text(payer_id, "payer_id", PARTY_LENGTH_MAX)
        check_text(recipient, "recipient", PARTY_LENGTH_MAX)
        check_text(currency, "currency", CURRENCY_TEXT_LENGTH_MAX)
        check_text(description, "description", DESCRIPTION_LENGTH_MAX)
        check_text(card_token, "payment_method", TOKEN_LENGTH_MAX)
        for split in splits:
            check_text(split.payee, "splits.payee", PARTY_LENGTH_MAX)

    @event(Created)
    def __init__(
        self,
        payer_id: str,
        recipient: str,
        amount_minor: int,
        currency: str,
        method: str,
        card_token: str,
        card_brand: str,
        card_last4: str,
        description: str,
        splits: tuple[Split, ...],
        request_digest: str,
        requested_at: datetime,
        wallet_share_minor: int,
        hold_id: UUID | None,
        owner_id: str,
        reference: str,
    ) -> None:
        self.payer_id = payer_id
        self.owner_id = owner_id
        self.reference = reference
        self.recipient = recipient
        self.amount_minor = amount_minor
        self.currency = currency
        self.method = PaymentMethod(method)
        self.card_token = card_token
        self.card_brand = card_brand
        self.card_last4 = card_last4
        self.description = description
        self.splits = splits
        self.request_digest = request_digest
        self.wallet_share_minor = wallet_share_minor
        self.hold_id = hold_id
        self.status = CREATED
        self.failure_reason = ""
        self.retryable = False
        self.attempts = 0
        self.gateway_key = ""
        self.gateway_reference = ""
        self.transaction_id: UUID | None = None
        self.allocations: tuple[Allocation, ...] = ()
        self.refunds = RefundBook()
        self.history: list[Transition] = [Transition(CREATED, "requested", requested_at)]
        self.requested_at = requested_at
        self.updated_at = requested_at  # the `at` of the latest event (the ledger's clock)

    # Queries.

    @property
    def wallet_minor(self) -> int:
        """What the payer's wallet pays of the amount."""
        if self.method == PaymentMethod.WALLET:
            return self.amount_minor
        return self.wallet_share_minor

    @property
    def card_minor(self) -> int:
        """What the gateway pays of the amount (the card, or the legacy processor)."""
        return self.amount_minor - self.wallet_minor

    @property
    def checkout_session_id(self) -> str:
        """A checkout payment's session at the gateway. It is kept where a card payment keeps
        its card's token: each is what the gateway is asked about to settle the payment."""
        return self.card_token if self.method == PaymentMethod.CHECKOUT else ""

    @property
    def captured_minor(self) -> int:
        return sum(a.amount_minor for a in self.allocations)

    @property
    def refunded_minor(self) -> int:
        return self.refunds.refunded_minor

    @property
    def refundable_minor(self) -> int:
        """Captured, minus refunded, minus refunds still waiting for the gateway."""
        return self.captured_minor - self.refunded_minor - self.refunds.reserved_minor

    def retries_used(self) -> int:
        return max(0, self.attempts - 1)

    def refund_split(self, refund_id: UUID) -> RefundSplit:
        """How a requested refund goes back: to the card and to the wallet."""
        key = str(refund_id)
        amount = self.refunds.pending.get(key, 0)
        card = self.refunds.to_card.get(key, amount if self.method in GATEWAY_FUNDED else 0)
        return RefundSplit(card, amount - card)

    # Commands.

    def reject(self, reason: str, at: datetime) -> None:
        """A rule failed before processing: FAILED for good."""
        self._require(CREATED)
        self._reject(at, reason)

    def start_processing(self, gateway_key: str, at: datetime, reason: str = "accepted") -> None:
        """CREATED -> PROCESSING (first attempt)."""
        self._require(CREATED)
        self._start(at, 1, gateway_key, reason)

    def retry(self, gateway_key: str, retries_max: int, at: datetime) -> None:
        """FAILED (transient reason) -> PROCESSING, at most `retries_max` times."""
        self._require(FAILED)
        if not self.retryable:
            raise PaymentNotRetryableError(
                f"The payment failed with {self.failure_reason}, which is not retryable."
            )
        if self.retries_used() >= retries_max:
            raise RetryLimitReachedError(f"Already retried {retries_max} times.")
        self._start(at, self.attempts + 1, gateway_key, "retry")

    def plan_capture(self) -> tuple[Allocation, ...]:
        """Who gets what of the amount if the payment succeeds."""
        self._require(PROCESSING)
        return allocate(self.amount_minor, self.splits, self.recipient)

    def succeed(self, transaction_id: UUID, gateway_reference: str, at: datetime) -> None:
        """PROCESSING -> SUCCESS, with the allocations of `plan_capture`."""
        self._succeed(at, transaction_id, gateway_reference, self.plan_capture())

    def fail(self, reason: str, retryable: bool, at: datetime, gateway_reference: str = "") -> None:
        """PROCESSING -> FAILED. Only wallet and card payments can be retried (see
        `RETRYABLE_METHODS`)."""
        self._require(PROCESSING)
        retryable = retryable and self.method in RETRYABLE_METHODS
        self._fail(at, reason, retryable, gateway_reference)

    def plan_refund(self, amount_minor: int, refund_id: UUID | None = None) -> RefundPlan:
        """Check a refund is allowed; what each payee gives back and what goes to the card.
        A wallet-first payment gives back to the card first, then to the wallet."""
        self._require(SUCCESS, PARTIALLY_REFUNDED)
        card_minor = self.card_minor if self.method == PaymentMethod.WALLET_FIRST else None
        return self.refunds.plan(amount_minor, self.allocations, card_minor, refund_id)

    def request_refund(
        self, refund_id: UUID, amount_minor: int, reason: str, request_digest: str, at: datetime
    ) -> None:
        """Reserve a refund before asking the gateway, so concurrent refunds can never add up
        to more than the capture, whatever the gateway does meanwhile."""
        check_text(reason, "reason", REASON_LENGTH_MAX)
        card_minor = self.plan_refund(amount_minor).card_minor
        self._request_refund(at, refund_id, amount_minor, reason, request_digest, card_minor)

    def fail_refund(self, refund_id: UUID, failure_code: str, at: datetime) -> None:
        """The gateway refused a requested refund: release the reservation."""
        self.refunds.check_pending(str(refund_id))
        self._fail_refund(at, refund_id, failure_code)

    def refund(
        self,
        refund_id: UUID,
        amount_minor: int,
        transaction_id: UUID,
        reason: str,
        at: datetime,
        gateway_reference: str = "",
    ) -> tuple[Allocation, ...]:
        """SUCCESS/PARTIALLY_REFUNDED -> PARTIALLY_REFUNDED or REFUNDED; returns what each
        payee gives back. A requested refund completes for the amount it reserved."""
        check_text(reason, "reason", REASON_LENGTH_MAX)
        allocations = self.plan_refund(amount_minor, refund_id).allocations
        self._refund(
            at, refund_id, amount_minor, transaction_id, reason, allocations, gateway_reference
        )
        return allocations

    def _require(self, *statuses: PaymentStatus) -> None:
        if self.status not in statuses:
            raise InvalidPaymentTransitionError(
                f"The payment is {self.status}; this needs {' or '.join(statuses)}."
            )

    # State changes: they only assign.

    def _add_history(self, status: PaymentStatus, reason: str, at: datetime) -> None:
        self.status = status
        self.history = [*self.history, Transition(status, reason, at)]

    @event(Rejected)
    def _reject(self, at: datetime, reason: str) -> None:
        self.updated_at = at
        self.failure_reason = reason
        self.retryable = False
        self._add_history(FAILED, reason, at)

    @event(ProcessingStarted)
    def _start(self, at: datetime, attempt: int, gateway_key: str, reason: str) -> None:
        self.updated_at = at
        self.attempts = attempt
        self.gateway_key = gateway_key
        self.failure_reason = ""
        self.retryable = False
        self._add_history(PROCESSING, reason, at)

    @event(Succeeded)
    def _succeed(
        self,
        at: datetime,
        transaction_id: UUID,
        gateway_reference: str,
        allocations: tuple[Allocation, ...],
    ) -> None:
        self.updated_at = at
        self.transaction_id = transaction_id
        self.gateway_reference = gateway_reference
        self.allocations = allocations
        self._add_history(SUCCESS, "captured", at)

    @event(Failed)
    def _fail(self, at: datetime, reason: str, retryable: bool, gateway_reference: str) -> None:
        self.updated_at = at
        self.failure_reason = reason
        self.retryable = retryable
        self.gateway_reference = gateway_reference or self.gateway_reference
        self._add_history(FAILED, reason, at)

    @event(RefundRequested)
    def _request_refund(
        self,
        at: datetime,
        refund_id: UUID,
        amount_minor: int,
        reason: str,
        request_digest: str,
        card_minor: int | None,
    ) -> None:
        self.updated_at = at
        self.refunds = self.refunds.requested(
            str(refund_id), amount_minor, request_digest, card_minor
        )

    @event(RefundFailed)
    def _fail_refund(self, at: datetime, refund_id: UUID, failure_code: str) -> None:
        self.updated_at = at
        self.refunds = self.refunds.refused(str(refund_id), failure_code)

    @event(Refunded)
    def _refund(
        self,
        at: datetime,
        refund_id: UUID,
        amount_minor: int,
        transaction_id: UUID,
        reason: str,
        allocations: tuple[Allocation, ...],
        gateway_reference: str,
    ) -> None:
        self.updated_at = at
        self.refunds = self.refunds.completed(str(refund_id), amount_minor, allocations)
        status = REFUNDED if self.refunded_minor == self.captured_minor else PARTIALLY_REFUNDED
        self._add_history(status, reason or "refund", at)
