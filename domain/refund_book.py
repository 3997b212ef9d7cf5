"""RefundBook: what a payment has given back, and what it has reserved, per refund.

A value object: every change returns a new book, so a payment's event methods only assign.
Refund ids are kept as strings (they are the keys of JSON objects in stored snapshots).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar
from uuid import UUID

from domain.errors import InvalidPaymentTransitionError, RefundExceedsCapturedError
from domain.money import check_amount
from domain.splits import Allocation, allocate_refund

V = TypeVar("V")


def _without(mapping: Mapping[str, V], key: str) -> dict[str, V]:
    return {k: v for k, v in mapping.items() if k != key}


@dataclass(frozen=True)
class RefundPlan:
    """What a refund gives back: each payee's share, and the part that goes to the card
    (None: the payment's method decides, all or nothing)."""

    allocations: tuple[Allocation, ...]
    card_minor: int | None


@dataclass(frozen=True)
class RefundBook:
    """Refunds of one payment: completed (`done`, `refunded_minor`, `by_payee`), reserved
    while the gateway is asked (`pending`), refused (`failed`), with each one's request
    digest and the part of it that goes back to the card (`to_card`)."""

    refunded_minor: int = 0
    by_payee: Mapping[str, int] = field(default_factory=dict)
    done: tuple[str, ...] = ()
    pending: Mapping[str, int] = field(default_factory=dict)  # refund id -> amount reserved
    digests: Mapping[str, str] = field(default_factory=dict)  # refund id -> request digest
    failed: Mapping[str, str] = field(default_factory=dict)  # refund id -> failure code
    to_card: Mapping[str, int] = field(default_factory=dict)  # refund id -> part to the card

    @property
    def reserved_minor(self) -> int:
        return sum(self.pending.values())

    def plan(
        self,
        amount_minor: int,
        captured: tuple[Allocation, ...],
        card_paid_minor: int | None,
        refund_id: UUID | None = None,
    ) -> RefundPlan:
        """Check a refund of `amount_minor` fits in what is left of the capture (a requested
        refund, `refund_id`, against everything but its own reservation), and plan it. With
        `card_paid_minor` (the card's part of a mixed payment), the card is refunded first."""
        book = self
        if refund_id is not None:
            key = str(refund_id)
            if key in self.done or key in self.failed:
                raise InvalidPaymentTransitionError("This refund has already ended.")
            reserved = self.pending.get(key, 0)
            if reserved and reserved != amount_minor:
                raise InvalidPaymentTransitionError("A refund completes for the amount requested.")
            book = replace(self, pending=_without(self.pending, key))
        check_amount(amount_minor)
        captured_minor = sum(a.amount_minor for a in captured)
        left = captured_minor - book.refunded_minor - book.reserved_minor
        if amount_minor > left:
            raise RefundExceedsCapturedError(f"Only {left} of {captured_minor} is left to refund.")
        card_minor = None
        if card_paid_minor is not None:
            card_left = card_paid_minor - sum(_without(book.to_card, str(refund_id)).values())
            card_minor = min(amount_minor, max(0, card_left))
        return RefundPlan(allocate_refund(amount_minor, captured, dict(self.by_payee)), card_minor)

    def check_pending(self, refund_id: str) -> None:
        if refund_id not in self.pending:
            raise InvalidPaymentTransitionError("No such refund is pending.")

    def requested(
        self, refund_id: str, amount_minor: int, digest: str, card_minor: int | None
    ) -> RefundBook:
        to_card = self.to_card if card_minor is None else {**self.to_card, refund_id: card_minor}
        return replace(
            self,
            pending={**self.pending, refund_id: amount_minor},
            digests={**self.digests, refund_id: digest},
            to_card=to_card,
        )

    def refused(self, refund_id: str, failure_code: str) -> RefundBook:
        return replace(
            self,
            pending=_without(self.pending, refund_id),
            to_card=_without(self.to_card, refund_id),
            failed={**self.failed, refund_id: failure_code},
        )

    def completed(
        self, refund_id: str, amount_minor: int, allocations: tuple[Allocation, ...]
    ) -> RefundBook:
        by_payee = dict(self.by_payee)
        for allocation in allocations:
            by_payee[allocation.payee] = by_payee.get(allocation.payee, 0) + allocation.amount_minor
        return replace(
            self,
            refunded_minor=self.refunded_minor + amount_minor,
            by_payee=by_payee,
            done=(*self.done, refund_id),
            pending=_without(self.pending, refund_id),
        )
