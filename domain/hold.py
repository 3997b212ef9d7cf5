"""Hold: money reserved on a wallet, later posted (in full or in part) or voided."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import HoldAmountExceededError, HoldExpiredError, HoldNotPendingError
from domain.money import check_amount, check_currency, check_customer_id
from domain.text import DESCRIPTION_LENGTH_MAX, REASON_LENGTH_MAX, check_text


class HoldStatus(StrEnum):
    """Where a hold stands: EXPIRED is a PENDING hold past its expiry (never stored)."""

    PENDING = "PENDING"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"


PENDING = HoldStatus.PENDING
POSTED = HoldStatus.POSTED
VOIDED = HoldStatus.VOIDED
EXPIRED = HoldStatus.EXPIRED


class Hold(Aggregate):
    """A two-phase reservation. The wallet keeps the reserved sum; the hold keeps its story."""

    class Placed(Aggregate.Created):
        account_id: UUID
        customer_id: str
        amount_minor: int
        currency: str
        expires_at: datetime | None
        description: str
        request_digest: str

    class Posted(Aggregate.Event):
        amount_minor: int
        transaction_id: UUID

    class Voided(Aggregate.Event):
        reason: str
        request_digest: str

    @classmethod
    def place(
        cls,
        hold_id: UUID,
        account_id: UUID,
        customer_id: str,
        amount_minor: int,
        currency: str,
        expires_at: datetime | None,
        description: str,
        request_digest: str,
    ) -> Hold:
        check_amount(amount_minor)
        check_customer_id(customer_id)
        check_currency(currency)
        check_text(description, "description", DESCRIPTION_LENGTH_MAX)
        return cls._create(
            cls.Placed,
            id=hold_id,
            account_id=account_id,
            customer_id=customer_id,
            amount_minor=amount_minor,
            currency=currency,
            expires_at=expires_at,
            description=description,
            request_digest=request_digest,
        )

    @event(Placed)
    def __init__(
        self,
        account_id: UUID,
        customer_id: str,
        amount_minor: int,
        currency: str,
        expires_at: datetime | None,
        description: str,
        request_digest: str,
    ) -> None:
        self.account_id = account_id
        self.customer_id = customer_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.expires_at = expires_at
        self.description = description
        self.request_digest = request_digest
        self.state: HoldStatus = PENDING
        self.posted_minor = 0
        self.transaction_id: UUID | None = None
        self.void_digest = ""

    def status(self, now: datetime) -> HoldStatus:
        """The stored state, or `expired` for a pending hold past its expiry."""
        if self.state == PENDING and self.expires_at is not None and self.expires_at <= now:
            return EXPIRED
        return self.state

    def post(self, amount_minor: int, transaction_id: UUID, now: datetime) -> None:
        """Capture part or all of the reserved amount; the rest is released."""
        self.require_postable(amount_minor, now)
        self._post(amount_minor, transaction_id)

    def require_postable(self, amount_minor: int, now: datetime) -> None:
        """Refuse a post this hold cannot take: not pending, expired, or more than it holds
        (checked before anything else the post names, such as its target wallet)."""
        check_amount(amount_minor)
        self.require_pending(now)
        if amount_minor > self.amount_minor:
            raise HoldAmountExceededError(
                f"The hold reserved {self.amount_minor}; cannot post {amount_minor}."
            )

    def void(self, reason: str, request_digest: str, now: datetime) -> None:
        """Release the reservation without moving money. An expired hold can be voided."""
        check_text(reason, "reason", REASON_LENGTH_MAX)
        if self.state != PENDING:
            raise HoldNotPendingError(f"The hold is already {self.state}.")
        self._void(reason, request_digest)

    def require_pending(self, now: datetime) -> None:
        """Refuse anything but a pending hold that has not expired."""
        status = self.status(now)
        if status == EXPIRED:
            raise HoldExpiredError()
        if status != PENDING:
            raise HoldNotPendingError(f"The hold is already {status}.")

    @event(Posted)
    def _post(self, amount_minor: int, transaction_id: UUID) -> None:
        self.state = POSTED
        self.posted_minor = amount_minor
        self.transaction_id = transaction_id

    @event(Voided)
    def _void(self, reason: str, request_digest: str) -> None:
        self.state = VOIDED
        self.void_digest = request_digest
