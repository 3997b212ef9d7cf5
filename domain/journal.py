"""JournalTransaction: one balanced movement of money between ledger accounts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import UnbalancedTransactionError
from domain.ids import payable_account_id, system_account_id
from domain.text import DESCRIPTION_LENGTH_MAX, check_text

# System accounts are unconstrained: their balances are derived from the log, so they are
# not aggregates and never serialize concurrent commands on a version number.
EXTERNAL_FUNDING = "external_funding"
EXTERNAL_PAYOUTS = "external_payouts"
GATEWAY_CLEARING = "gateway_clearing"
PLATFORM_FEES = "platform_fees"
SYSTEM_ACCOUNTS = (EXTERNAL_FUNDING, EXTERNAL_PAYOUTS, GATEWAY_CLEARING, PLATFORM_FEES)

POSTINGS_MAX = 64


@dataclass(frozen=True)
class Posting:
    """One leg of a transaction: a signed amount on one account (+ in, - out).

    `account_code` says what the account is (`wallet:<customer>` or `system:<name>`);
    `balance_after_minor` is known for constrained accounts (wallets) only.
    """

    account_id: UUID
    account_code: str
    amount_minor: int
    currency: str
    balance_after_minor: int | None = None

    @property
    def is_system(self) -> bool:
        """Unconstrained accounts (system and payee accounts): balances derived from the log."""
        return not self.account_code.startswith("wallet:")


def system_posting(name: str, amount_minor: int, currency: str) -> Posting:
    """A posting on a system account such as external funding."""
    return Posting(system_account_id(name, currency), f"system:{name}", amount_minor, currency)


PLATFORM_PAYEE = "platform"


def payee_posting(payee: str, amount_minor: int, currency: str) -> Posting:
    """A posting on what the ledger owes a payee (a school, a merchant). The payee
    `platform` is the platform-fees system account."""
    if payee == PLATFORM_PAYEE:
        return system_posting(PLATFORM_FEES, amount_minor, currency)
    return Posting(payable_account_id(payee, currency), f"payable:{payee}", amount_minor, currency)


def wallet_posting(
    account_id: UUID, customer_id: str, amount_minor: int, currency: str, balance_after_minor: int
) -> Posting:
    """A posting on a customer's wallet, with the wallet balance it leaves."""
    return Posting(account_id, f"wallet:{customer_id}", amount_minor, currency, balance_after_minor)


def check_balanced(postings: tuple[Posting, ...]) -> None:
    """Debits equal credits in every currency; no empty or zero legs."""
    if not 2 <= len(postings) <= POSTINGS_MAX:
        raise UnbalancedTransactionError(f"A transaction needs 2 to {POSTINGS_MAX} postings.")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.amount_minor == 0:
            raise UnbalancedTransactionError("A posting cannot be zero.")
        totals[posting.currency] += posting.amount_minor
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransactionError(f"Postings do not balance: {unbalanced}.")


class JournalTransaction(Aggregate):
    """An immutable, balanced journal entry. Its id is the client's idempotency id."""

    class Recorded(Aggregate.Created):
        kind: str
        postings: tuple[Posting, ...]
        description: str
        request_digest: str
        reference: str

    @classmethod
    def record(
        cls,
        transaction_id: UUID,
        kind: str,
        postings: tuple[Posting, ...],
        description: str,
        request_digest: str,
        reference: str = "",
    ) -> JournalTransaction:
        """Record a balanced transaction; raises if the postings do not balance or the
        description cannot be recorded."""
        check_balanced(postings)
        check_text(description, "description", DESCRIPTION_LENGTH_MAX)
        return cls._create(
            cls.Recorded,
            id=transaction_id,
            kind=kind,
            postings=postings,
            description=description,
            request_digest=request_digest,
            reference=reference,
        )

    @event(Recorded)
    def __init__(
        self,
        kind: str,
        postings: tuple[Posting, ...],
        description: str,
        request_digest: str,
        reference: str,
    ) -> None:
        self.kind = kind
        self.postings = postings
        self.description = description
        self.request_digest = request_digest
        self.reference = reference
