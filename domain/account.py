"""Account: a customer wallet whose balance is constrained (no overdraw past its limit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    CurrencyMismatchError,
    HoldAmountExceededError,
    HoldNotPendingError,
    InsufficientFundsError,
    InvalidOverdraftLimitError,
)
from domain.ids import wallet_id
from domain.money import AMOUNT_MINOR_MAX, check_amount, check_currency, check_customer_id
from domain.text import DESCRIPTION_LENGTH_MAX, REASON_LENGTH_MAX, check_text


@dataclass(frozen=True)
class HeldFunds:
    """Money reserved on a wallet by a pending hold."""

    amount_minor: int
    expires_at: datetime | None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class Account(Aggregate):
    """A customer's wallet in one currency.

    Its balance is the sum of its postings. Money held by pending holds is not available;
    the balance may go below zero only down to the overdraft limit.
    """

    class Opened(Aggregate.Created):
        customer_id: str
        currency: str
        overdraft_limit_minor: int

    class Posted(Aggregate.Event):
        transaction_id: UUID
        amount_minor: int
        balance_after_minor: int
        kind: str
        description: str

    class HoldPlaced(Aggregate.Event):
        hold_id: UUID
        amount_minor: int
        expires_at: datetime | None

    class HoldReleased(Aggregate.Event):
        hold_id: UUID
        amount_minor: int
        reason: str

    @staticmethod
    def create_id(customer_id: str, currency: str, **_: Any) -> UUID:
        return wallet_id(customer_id, currency)

    @classmethod
    def open(cls, customer_id: str, currency: str, overdraft_limit_minor: int = 0) -> Account:
        """Open a wallet; the id follows from the customer and the currency."""
        check_currency(currency)
        check_customer_id(customer_id)
        if (
            isinstance(overdraft_limit_minor, bool)
            or not isinstance(overdraft_limit_minor, int)
            or not 0 <= overdraft_limit_minor <= AMOUNT_MINOR_MAX
        ):
            raise InvalidOverdraftLimitError()
        return cls(
            customer_id=customer_id,
            currency=currency,
            overdraft_limit_minor=overdraft_limit_minor,
        )

    @event(Opened)
    def __init__(self, customer_id: str, currency: str, overdraft_limit_minor: int) -> None:
        self.customer_id = customer_id
        self.currency = currency
        self.overdraft_limit_minor = overdraft_limit_minor
        self.balance_minor = 0
        self.holds: dict[str, HeldFunds] = {}

    # Queries.

    def held_minor(self, now: datetime) -> int:
        """Money reserved by pending holds that have not expired."""
        return sum(h.amount_minor for h in self.holds.values() if not h.is_expired(now))

    def available_minor(self, now: datetime) -> int:
        """What can still be spent: balance minus holds plus overdraft."""
        return self.balance_minor - self.held_minor(now) + self.overdraft_limit_minor

    # Commands.

    def credit(
        self, amount_minor: int, currency: str, transaction_id: UUID, kind: str, description: str
    ) -> int:
        """Add money; returns the balance after."""
        self._check(amount_minor, currency, description)
        balance_after = self.balance_minor + amount_minor
        self._post(transaction_id, amount_minor, balance_after, kind, description)
        return balance_after

    def debit(
        self,
        amount_minor: int,
        currency: str,
        transaction_id: UUID,
        kind: str,
        description: str,
        now: datetime,
    ) -> int:
        """Take money out if the available balance covers it; returns the balance after."""
        self._check(amount_minor, currency, description)
        self.release_expired_holds(now)
        if amount_minor > self.available_minor(now):
            raise InsufficientFundsError(
                f"Available {self.available_minor(now)} is less than {amount_minor}."
            )
        balance_after = self.balance_minor - amount_minor
        self._post(transaction_id, -amount_minor, balance_after, kind, description)
        return balance_after

    def place_hold(
        self,
        hold_id: UUID,
        amount_minor: int,
        currency: str,
        expires_at: datetime | None,
        now: datetime,
    ) -> None:
        """Reserve money for a later posting."""
        self._check(amount_minor, currency)
        self.release_expired_holds(now)
        if amount_minor > self.available_minor(now):
            raise InsufficientFundsError(
                f"Available {self.available_minor(now)} is less than {amount_minor}."
            )
        self._place_hold(hold_id, amount_minor, expires_at)

    def capture_hold(
        self, hold_id: UUID, amount_minor: int, transaction_id: UUID, description: str
    ) -> int:
        """Release a hold and debit the captured part of it; returns the balance after.

        The held money was already reserved, so capture needs no new availability check.
        """
        held = self.holds.get(str(hold_id))
        if held is None:
            raise HoldNotPendingError(f"Hold {hold_id} is not pending on this wallet.")
        self._check(amount_minor, self.currency, description)
        if amount_minor > held.amount_minor:
            raise HoldAmountExceededError()
        self._release_hold(hold_id, held.amount_minor, "posted")
        balance_after = self.balance_minor - amount_minor
        self._post(transaction_id, -amount_minor, balance_after, "hold_capture", description)
        return balance_after

    def void_hold(self, hold_id: UUID, reason: str) -> None:
        """Release a hold without moving money (no-op if it already lapsed)."""
        check_text(reason, "reason", REASON_LENGTH_MAX)
        held = self.holds.get(str(hold_id))
        if held is not None:
            self._release_hold(hold_id, held.amount_minor, reason)

    def release_expired_holds(self, now: datetime) -> None:
        """Record the release of holds whose expiry has passed, so they stop counting."""
        for key, held in list(self.holds.items()):
            if held.is_expired(now):
                self._release_hold(UUID(key), held.amount_minor, "expired")

    def _check(self, amount_minor: int, currency: str, description: str = "") -> None:
        check_amount(amount_minor)
        check_text(description, "description", DESCRIPTION_LENGTH_MAX)
        if currency != self.currency:
            raise CurrencyMismatchError(f"The wallet holds {self.currency}, not {currency}.")

    # State changes: they only assign.

    @event(Posted)
    def _post(
        self,
        transaction_id: UUID,
        amount_minor: int,
        balance_after_minor: int,
        kind: str,
        description: str,
    ) -> None:
        self.balance_minor = balance_after_minor

    @event(HoldPlaced)
    def _place_hold(self, hold_id: UUID, amount_minor: int, expires_at: datetime | None) -> None:
        self.holds[str(hold_id)] = HeldFunds(amount_minor, expires_at)

    @event(HoldReleased)
    def _release_hold(self, hold_id: UUID, amount_minor: int, reason: str) -> None:
        self.holds.pop(str(hold_id), None)
