"""The vocabulary of payments: statuses, methods, rule failures, and small value objects.

One vocabulary across the API: a charge (seed 003) is a payment whose method is
`wallet_first`, so it has the same statuses as every other payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PaymentStatus(StrEnum):
    """Where a payment stands (seed 001's names)."""

    CREATED = "CREATED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


UNSETTLED = frozenset({PaymentStatus.CREATED, PaymentStatus.PROCESSING})
REFUNDABLE = frozenset({PaymentStatus.SUCCESS, PaymentStatus.PARTIALLY_REFUNDED})


class PaymentMethod(StrEnum):
    """What funds a payment: a wallet, a card, the wallet first and a card for the rest, a
    card the payer gives on the gateway's hosted checkout page (seed 002), or the legacy
    processor (seed 001's payments, which name no card: the processor decides)."""

    WALLET = "wallet"
    CARD = "card"
    WALLET_FIRST = "wallet_first"
    CHECKOUT = "checkout"
    LEGACY = "legacy"


# Paid in full by a gateway (a card, or the legacy processor), so refunded in full through it.
GATEWAY_FUNDED = frozenset({PaymentMethod.CARD, PaymentMethod.CHECKOUT, PaymentMethod.LEGACY})
# A payment we can attempt again ourselves: a wallet-first payment's hold is gone once it
# fails, and a checkout's payer has left the gateway's page.
RETRYABLE_METHODS = frozenset({PaymentMethod.WALLET, PaymentMethod.CARD, PaymentMethod.LEGACY})


# Rule failures (never retryable); gateway failure codes come from the gateway port.
INVALID_AMOUNT = "INVALID_AMOUNT"
FRAUD_SUSPECTED = "FRAUD_SUSPECTED"
INVALID_REQUEST = "INVALID_REQUEST"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
# The card of a wallet-first payment paid, but its wallet part could no longer be taken.
WALLET_HOLD_LAPSED = "WALLET_HOLD_LAPSED"


@dataclass(frozen=True)
class Transition:
    """One step of a payment's history."""

    status: PaymentStatus
    reason: str
    at: datetime


@dataclass(frozen=True)
class RefundSplit:
    """Where a refund goes back: to the card (through the gateway) and to the wallet."""

    card_minor: int
    wallet_minor: int
