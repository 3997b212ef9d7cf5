"""Transactions as seed 004 names them: a customer's history, a transfer from their wallet,
and "update a transaction's status".

Posted journal transactions are immutable: a status update is never an edit of history. It
is one of the legal state changes of what stands behind the id:

- a pending hold is `captured` (posted out of the ledger, in full or in part) or `voided`;
- a payment, or a journal transaction that settled one, is `refunded` (in full or in part,
  by an admin: refunds are the merchant's decision);
- anything else (a transfer, a top-up, a payout) cannot change: `transaction_immutable`.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application import results
from application.errors import NotFoundError, PaymentNotFoundError, TransactionNotFoundError
from application.holds import HoldService
from application.payments import require_visible
from application.principal import Principal
from application.refunds import RefundService
from application.runner import CommandRunner
from application.wallets import WalletService
from domain.errors import TransactionImmutableError
from domain.hold import Hold
from domain.journal import JournalTransaction
from domain.payment import Payment


class StatusChange(StrEnum):
    """The state changes a `PUT /transactions/{id}` may ask for."""

    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


class StatusChanged(msgspec.Struct, frozen=True):
    """What a status update changed: the hold or payment behind the id, its new status,
    and the journal transaction it posted (if any)."""

    id: UUID
    kind: str  # "hold" or "payment"
    status: str
    transaction_id: UUID | None


class TransactionService:
    """Seed 004's transactions, on the wallet, hold and refund use cases."""

    def __init__(
        self,
        runner: CommandRunner,
        wallets: WalletService,
        holds: HoldService,
        refunds: RefundService,
    ) -> None:
        self.runner = runner
        self.wallets = wallets
        self.holds = holds
        self.refunds = refunds

    def send(
        self,
        caller: Principal,
        to_customer_id: str,
        amount_minor: int,
        currency: str,
        description: str = "",
        from_customer_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> results.Written[results.Transaction]:
        """A transfer from the caller's wallet (an admin may name the paying customer)."""
        source = caller.subject if from_customer_id is None else from_customer_id
        return self.wallets.transfer(
            caller, source, to_customer_id, amount_minor, currency, description, idempotency_key
        )

    def change_status(
        self,
        caller: Principal,
        target_id: UUID,
        change: StatusChange,
        amount_minor: int | None = None,
        idempotency_key: str | None = None,
    ) -> results.Written[StatusChanged]:
        """Apply `change` to the hold or payment behind `target_id` (see the module)."""
        target = self._behind(caller, target_id)
        if isinstance(target, Hold):
            if change == StatusChange.REFUNDED:
                raise TransactionImmutableError("A hold is captured or voided, not refunded.")
            return self._change_hold(caller, target.id, change, amount_minor, idempotency_key)
        if change != StatusChange.REFUNDED:
            raise TransactionImmutableError(
                f"A payment cannot become {change}: it is refunded, or left as it is."
            )
        refunded = self.refunds.refund_payment(caller, target.id, amount_minor, "", idempotency_key)
        payment = refunded.value
        changed = StatusChanged(payment.id, "payment", str(payment.status), None)
        return results.Written(changed, refunded.position, refunded.replayed)

    def _behind(self, caller: Principal, target_id: UUID) -> Hold | Payment:
        """The hold or payment `target_id` names, itself or through the journal transaction
        that settled it; not found unless the caller may see it."""
        found = self.runner.read(Aggregate, target_id, TransactionNotFoundError)
        if isinstance(found, JournalTransaction):
            self.wallets.get_transaction(caller, target_id)  # not found unless visible
            found = self.runner.read(Aggregate, _settled(found, target_id), _Immutable)
        if isinstance(found, Hold):
            caller.require_reads(found.customer_id, TransactionNotFoundError)
            return found
        if isinstance(found, Payment):
            try:
                require_visible(caller, found)
            except PaymentNotFoundError:
                raise TransactionNotFoundError() from None
            return found
        raise TransactionNotFoundError()

    def _change_hold(
        self,
        caller: Principal,
        hold_id: UUID,
        change: StatusChange,
        amount_minor: int | None,
        idempotency_key: str | None,
    ) -> results.Written[StatusChanged]:
        if change == StatusChange.CAPTURED:
            posted = self.holds.post_hold(
                caller, hold_id, amount_minor, idempotency_key=idempotency_key
            )
            hold = self.holds.get_hold(caller, hold_id)
            changed = StatusChanged(hold_id, "hold", str(hold.status), posted.value.id)
            return results.Written(changed, posted.position, posted.replayed)
        voided = self.holds.void_hold(caller, hold_id, idempotency_key=idempotency_key)
        changed = StatusChanged(hold_id, "hold", str(voided.value.status), None)
        return results.Written(changed, voided.position, voided.replayed)


class _Immutable(NotFoundError):
    """What a journal transaction refers to is gone."""


def _settled(journal: JournalTransaction, journal_id: UUID) -> UUID:
    """What a journal transaction settled (a payment); `transaction_immutable` if nothing
    (a transfer, a top-up or a payout: history that stays as it is)."""
    try:
        return UUID(journal.reference)
    except ValueError:
        raise TransactionImmutableError(
            f"Transaction {journal_id} is posted and immutable; nothing stands behind it "
            "that could change (reverse it with a new transaction instead)."
        ) from None
