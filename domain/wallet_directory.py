"""WalletDirectory: the currencies a customer holds wallets in, read from the log.

Saved in the same transaction as each wallet's `Account.Opened`, so it can never disagree
with the wallets: a customer's wallets are then found from the log alone (strongly
consistent), without waiting for a read model.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.ids import wallet_directory_id
from domain.money import check_currency, check_customer_id


class WalletDirectory(Aggregate):
    """The currencies of one customer's wallets, in the order they were opened."""

    class Started(Aggregate.Created):
        customer_id: str

    class WalletListed(Aggregate.Event):
        currency: str

    @staticmethod
    def create_id(customer_id: str, **_: object) -> UUID:
        return wallet_directory_id(customer_id)

    @classmethod
    def start(cls, customer_id: str) -> WalletDirectory:
        """An empty directory for the customer (saved with their first wallet)."""
        return cls(customer_id=check_customer_id(customer_id))

    @event(Started)
    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.currencies: tuple[str, ...] = ()

    def list_wallet(self, currency: str) -> None:
        """Add the currency of a wallet just opened (once)."""
        check_currency(currency)
        if currency not in self.currencies:
            self._list(currency)

    @event(WalletListed)
    def _list(self, currency: str) -> None:
        self.currencies = (*self.currencies, currency)
