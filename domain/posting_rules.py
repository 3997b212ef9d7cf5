"""Posting rules: the one place that says which accounts each movement of money touches.

Every function here moves money on the aggregates it is given (wallets, holds, payments)
and returns the balanced `JournalTransaction` that records the movement; the caller saves
them together. Nothing else in the code builds journal entries.

Accounts by movement (+ in, - out):
- top-up:     external funding -  wallet +
- payout:     wallet -            external payouts +
- transfer:   wallet (source) -   wallet (target) +
- hold post:  wallet (holder) -   wallet (target) + or external payouts +
- payment:    wallet - (its part) and gateway clearing - (the card's part)   payees +
- refund:     payees -            wallet + (its part) and gateway clearing + (the card's part)
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.account import Account
from domain.errors import SameWalletTransferError
from domain.hold import Hold
from domain.journal import (
    EXTERNAL_FUNDING,
    EXTERNAL_PAYOUTS,
    GATEWAY_CLEARING,
    JournalTransaction,
    Posting,
    payee_posting,
    system_posting,
    wallet_posting,
)
from domain.money import Money
from domain.payment import Payment
from domain.splits import Allocation


def top_up(
    journal_id: UUID,
    wallet: Account,
    amount: Money,
    description: str,
    now: datetime,
    request_digest: str = "",
) -> JournalTransaction:
    """Money comes into the ledger from outside: external funding -> wallet (`now` is not
    needed: a credit never depends on holds; it keeps the one-wallet rules alike)."""
    after = wallet.credit(amount.amount_minor, amount.currency, journal_id, "credit", description)
    postings = (
        system_posting(EXTERNAL_FUNDING, -amount.amount_minor, amount.currency),
        _wallet_leg(wallet, amount.amount_minor, after),
    )
    return JournalTransaction.record(journal_id, "credit", postings, description, request_digest)


def payout(
    journal_id: UUID,
    wallet: Account,
    amount: Money,
    description: str,
    now: datetime,
    request_digest: str = "",
) -> JournalTransaction:
    """Money leaves the ledger: wallet -> external payouts."""
    minor, currency = amount.amount_minor, amount.currency
    after = wallet.debit(minor, currency, journal_id, "debit", description, now)
    postings = (
        _wallet_leg(wallet, -minor, after),
        system_posting(EXTERNAL_PAYOUTS, minor, currency),
    )
    return JournalTransaction.record(journal_id, "debit", postings, description, request_digest)


def transfer(
    journal_id: UUID,
    source: Account,
    target: Account,
    amount: Money,
    description: str,
    now: datetime,
    request_digest: str = "",
) -> JournalTransaction:
    """Wallet to wallet, in one currency."""
    minor, currency = amount.amount_minor, amount.currency
    source_after = source.debit(minor, currency, journal_id, "transfer_out", description, now)
    target_after = target.credit(minor, currency, journal_id, "transfer_in", description)
    postings = (_wallet_leg(source, -minor, source_after), _wallet_leg(target, minor, target_after))
    return JournalTransaction.record(journal_id, "transfer", postings, description, request_digest)


def post_hold(
    journal_id: UUID,
    hold: Hold,
    holder: Account,
    amount_minor: int,
    target: Account | None,
    description: str,
    now: datetime,
    request_digest: str = "",
) -> JournalTransaction:
    """Capture (part of) a pending hold into another wallet, or out of the ledger when
    there is no target; the rest of the reservation is released."""
    hold.post(amount_minor, journal_id, now)
    if target is not None and target.id == holder.id:
        raise SameWalletTransferError()
    after = holder.capture_hold(hold.id, amount_minor, journal_id, description)
    legs = [_wallet_leg(holder, -amount_minor, after)]
    if target is None:
        legs.append(system_posting(EXTERNAL_PAYOUTS, amount_minor, hold.currency))
    else:
        target_after = target.credit(
            amount_minor, hold.currency, journal_id, "hold_capture", description
        )
        legs.append(_wallet_leg(target, amount_minor, target_after))
    return JournalTransaction.record(
        journal_id, "hold_capture", tuple(legs), description, request_digest, str(hold.id)
    )


def capture_payment(
    journal_id: UUID,
    payment: Payment,
    gateway_reference: str,
    now: datetime,
    wallet: Account | None = None,
    hold: Hold | None = None,
) -> JournalTransaction:
    """A payment succeeds: its wallet part leaves the payer's wallet (by capturing its hold,
    or as a debit), its card part comes from gateway clearing, and the payees are credited
    their allocations. Raises (changing nothing saved) if the wallet cannot pay its part."""
    description = f"payment {payment.id}"
    legs: list[Posting] = []
    if payment.wallet_minor:
        assert wallet is not None, "a payment with a wallet part needs the payer's wallet"
        if hold is not None:
            hold.post(payment.wallet_minor, journal_id, now)
            after = wallet.capture_hold(hold.id, payment.wallet_minor, journal_id, description)
        else:
            after = wallet.debit(
                payment.wallet_minor, payment.currency, journal_id, "payment", description, now
            )
        legs.append(_wallet_leg(wallet, -payment.wallet_minor, after))
    if payment.card_minor:
        legs.append(system_posting(GATEWAY_CLEARING, -payment.card_minor, payment.currency))
    payment.succeed(journal_id, gateway_reference, now)
    legs += _payee_legs(payment.allocations, payment.currency, 1)
    return JournalTransaction.record(
        journal_id, "payment", tuple(legs), payment.description, "", str(payment.id)
    )


def refund_payment(
    journal_id: UUID,
    payment: Payment,
    refund_id: UUID,
    reason: str,
    now: datetime,
    gateway_reference: str = "",
    wallet: Account | None = None,
) -> JournalTransaction:
    """A requested refund completes: the payees give back in proportion to what each still
    holds, the wallet gets its part back and gateway clearing the card's part."""
    split = payment.refund_split(refund_id)
    amount = split.card_minor + split.wallet_minor
    legs: list[Posting] = []
    if split.wallet_minor:
        assert wallet is not None, "a refund with a wallet part needs the payer's wallet"
        after = wallet.credit(
            split.wallet_minor,
            payment.currency,
            journal_id,
            "refund",
            f"refund of payment {payment.id}",
        )
        legs.append(_wallet_leg(wallet, split.wallet_minor, after))
    if split.card_minor:
        legs.append(system_posting(GATEWAY_CLEARING, split.card_minor, payment.currency))
    given_back = payment.refund(refund_id, amount, journal_id, reason, now, gateway_reference)
    legs += _payee_legs(given_back, payment.currency, -1)
    return JournalTransaction.record(journal_id, "refund", tuple(legs), reason, "", str(payment.id))


def _wallet_leg(wallet: Account, amount_minor: int, balance_after_minor: int) -> Posting:
    return wallet_posting(
        wallet.id, wallet.customer_id, amount_minor, wallet.currency, balance_after_minor
    )


def _payee_legs(allocations: tuple[Allocation, ...], currency: str, sign: int) -> list[Posting]:
    return [payee_posting(a.payee, sign * a.amount_minor, currency) for a in allocations]
