"""Settling wallet payments many at a time: one command, one transaction, for a batch.

A wallet payment needs no gateway: settling it is a decision on the payer's wallet (debit it,
or fail the payment with `insufficient_funds`). The payment processor sees such payments by
the dozen in each batch of the log; settling each in its own command cost a read of the
payment, a read of the wallet and a commit per payment. Here a batch is settled in one
command: every payment is loaded once, every wallet once (however many of the batch's
payments it pays), the debits of one wallet are decided in the log's order on that one
copy, and everything is saved together. The rules are those of one payment at a time:

- only a payment still CREATED or PROCESSING is touched, so each settles once (a payment
  another process settled meanwhile makes the save conflict; the runner re-runs the whole
  command on what the log then says, and that payment is left alone);
- a payment the wallet cannot pay fails with `insufficient_funds` only when decided on state
  read straight from the log (`uow.fresh`): on a cached wallet the refusal is raised, and
  the runner re-runs the batch fresh, as it does for a single payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from application.errors import PaymentNotFoundError
from application.runner import UnitOfWork
from domain import posting_rules
from domain.account import Account
from domain.errors import InsufficientFundsError
from domain.ids import wallet_id
from domain.journal import JournalTransaction
from domain.payment import Payment
from domain.payment_terms import INSUFFICIENT_FUNDS, PaymentMethod, PaymentStatus

WALLET_BATCH_MAX = 200  # payments settled in one transaction (bounds its size and locks)
UNSETTLED = (PaymentStatus.CREATED, PaymentStatus.PROCESSING)


def is_unsettled_wallet_payment(payment: Payment) -> bool:
    """A payment this module settles: paid from a wallet, not yet settled."""
    return payment.method == PaymentMethod.WALLET and payment.status in UNSETTLED


def locks_of(payments: Sequence[Payment]) -> list[UUID]:
    """The payments and the wallets they take money from (as a single payment locks)."""
    ids = [p.id for p in payments]
    ids += list(dict.fromkeys(wallet_id(p.payer_id, p.currency) for p in payments))
    return ids


@dataclass(frozen=True)
class Settled:
    """Where one payment of the batch stands, and whether this command moved it there."""

    payment: Payment
    moved: bool


def settle_from_wallet(
    uow: UnitOfWork, payment: Payment, wallet: Account
) -> JournalTransaction | None:
    """Start and settle one unsettled wallet payment on `wallet` (the caller's one copy):
    its journal when the wallet paid, None when the payment failed (insufficient funds,
    decided on fresh state only). Raises `InsufficientFundsError` on cached state."""
    if payment.status == PaymentStatus.CREATED:
        payment.start_processing(f"{payment.id}:1", uow.now)
    try:
        return posting_rules.capture_payment(uuid4(), payment, "", uow.now, wallet)
    except InsufficientFundsError:
        if not uow.fresh:
            raise  # failing is final: decide it on the wallet as the log has it
        payment.fail(INSUFFICIENT_FUNDS, False, uow.now)
        return None


def settle_wallet_batch(payment_ids: Sequence[UUID], uow: UnitOfWork) -> list[Settled]:
    """The command: settle every unsettled wallet payment of `payment_ids`, in their order,
    each wallet loaded once; everything changed is saved in the one transaction."""
    assert len(payment_ids) <= WALLET_BATCH_MAX, "a batch is bounded"
    wallets: dict[UUID, Account] = {}
    paid: dict[UUID, Account] = {}  # the wallets that paid something: saved
    changed: list[Payment | JournalTransaction] = []
    settled: list[Settled] = []
    for payment_id in payment_ids:
        payment = uow.get(Payment, payment_id, PaymentNotFoundError)
        if not is_unsettled_wallet_payment(payment):
            settled.append(Settled(payment, moved=False))
            continue
        key = wallet_id(payment.payer_id, payment.currency)
        wallet = wallets.get(key)
        if wallet is None:
            wallet = wallets[key] = uow.wallet(payment.payer_id, payment.currency)
        journal = settle_from_wallet(uow, payment, wallet)
        changed.append(payment)
        if journal is not None:
            changed.append(journal)
            paid[key] = wallet
        settled.append(Settled(payment, moved=True))
    # A wallet that only refused is not saved, as when its payments settle one at a time.
    uow.save(*changed, *paid.values())
    return settled
