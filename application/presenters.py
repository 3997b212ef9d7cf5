"""Presenters: aggregates as the results use cases return (and the API shows)."""

from __future__ import annotations

from datetime import datetime

from application import results
from domain.account import Account
from domain.hold import Hold, HoldStatus
from domain.journal import JournalTransaction
from domain.payment import Payment


def wallet(account: Account, now: datetime) -> results.Wallet:
    """A wallet with what is held and available at `now`."""
    return results.Wallet(
        id=account.id,
        customer_id=account.customer_id,
        currency=account.currency,
        balance=account.balance_minor,
        held=account.held_minor(now),
        available=account.available_minor(now),
        overdraft_limit=account.overdraft_limit_minor,
        version=account.version,
        updated_at=account.modified_on,
    )


def transaction(journal: JournalTransaction) -> results.Transaction:
    return results.Transaction(
        id=journal.id,
        kind=journal.kind,
        description=journal.description,
        reference=journal.reference,
        created_at=journal.created_on,
        postings=[
            results.PostingOut(
                p.account_id, p.account_code, p.amount_minor, p.currency, p.balance_after_minor
            )
            for p in journal.postings
        ],
    )


def hold(held: Hold, now: datetime) -> results.Hold:
    """A hold with its status at `now` (a pending hold past its expiry is EXPIRED)."""
    return _hold(held, held.status(now))


def placed_hold(held: Hold) -> results.Hold:
    """A hold as its placing request saw it: expiry lies in the future then, so PENDING."""
    return _hold(held, HoldStatus.PENDING)


def _hold(held: Hold, status: HoldStatus) -> results.Hold:
    return results.Hold(
        id=held.id,
        wallet_id=held.account_id,
        customer_id=held.customer_id,
        amount=held.amount_minor,
        currency=held.currency,
        status=status,
        posted_amount=held.posted_minor,
        transaction_id=held.transaction_id,
        expires_at=held.expires_at,
        description=held.description,
        created_at=held.created_on,
    )


def _card(payment: Payment) -> results.CardOut | None:
    if not payment.card_last4:
        return None
    return results.CardOut(payment.card_brand, payment.card_last4)


def payment(paid: Payment) -> results.Payment:
    return results.Payment(
        id=paid.id,
        payment_id=paid.id,
        status=paid.status,
        amount=paid.amount_minor,
        currency=paid.currency,
        payer_id=paid.payer_id,
        recipient=paid.recipient,
        method=paid.method,
        card=_card(paid),
        description=paid.description,
        failure_reason=paid.failure_reason or None,
        retryable=paid.retryable,
        attempts=paid.attempts,
        captured=paid.captured_minor,
        refunded=paid.refunded_minor,
        refundable=paid.refundable_minor,
        pending_refunds=sum(paid.refunds.pending.values()),
        splits=[results.SplitOut(s.payee, s.bps, s.amount_minor) for s in paid.splits],
        allocations=[results.PayeeAmount(a.payee, a.amount_minor) for a in paid.allocations],
        transaction_id=paid.transaction_id,
        history=[results.PaymentStep(t.status, t.reason, t.at) for t in paid.history],
        created_at=paid.requested_at,
        updated_at=paid.updated_at,
    )


def charge(paid: Payment) -> results.Charge:
    """A wallet-first payment as seed 003's charges show it."""
    return results.Charge(
        id=paid.id,
        status=paid.status,
        customer_id=paid.payer_id,
        recipient=paid.recipient,
        amount=paid.amount_minor,
        currency=paid.currency,
        wallet_amount=paid.wallet_minor,
        card_amount=paid.card_minor,
        card=_card(paid),
        description=paid.description,
        failure_reason=paid.failure_reason or None,
        allocations=[results.PayeeAmount(a.payee, a.amount_minor) for a in paid.allocations],
        refunded=paid.refunded_minor,
        refundable=paid.refundable_minor,
        transaction_id=paid.transaction_id,
        created_at=paid.requested_at,
        updated_at=paid.updated_at,
    )
