"""Request bodies: strict msgspec structs (no unknown fields, no type coercion).

Amounts are integers of minor units (`25000` is 250.00 USD). Currencies and customer ids are
plain strings here: the domain checks them and answers with its own codes
(`unknown_currency`, `invalid_customer_id`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from domain.journal import DESCRIPTION_LENGTH_MAX
from domain.money import AMOUNT_MINOR_MAX
from domain.splits import SPLITS_MAX

Amount = Annotated[
    int,
    msgspec.Meta(
        gt=0,
        le=AMOUNT_MINOR_MAX,
        examples=[25000],
        description="Integer minor units of the currency: 25000 is 250.00 USD.",
    ),
]
Currency = Annotated[
    str,
    msgspec.Meta(
        examples=["USD"],
        description="ISO 4217 code.",
    ),
]
CustomerId = Annotated[
    str,
    msgspec.Meta(
        examples=["alice"],
        description="The customer's opaque id (1 to 200 printable characters).",
    ),
]
# No NUL characters: PostgreSQL text columns (the read models) cannot store them.
NO_NUL_PATTERN = r"^[^\x00]*$"
Description = Annotated[
    str, msgspec.Meta(max_length=DESCRIPTION_LENGTH_MAX, pattern=NO_NUL_PATTERN)
]
HOLD_REASON_LENGTH_MAX = 200


class WalletCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Open a wallet: at most one per customer and currency."""

    customer_id: CustomerId
    currency: Currency
    overdraft_limit: Annotated[
        int, msgspec.Meta(description="How far below zero the balance may go, in minor units.")
    ] = 0


class CreditCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Money in from outside the ledger (external funding -> wallet)."""

    amount: Amount
    currency: Currency
    description: Description = ""


class DebitCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Money out of the ledger (wallet -> external payouts)."""

    amount: Amount
    currency: Currency
    description: Description = ""


class TransferCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Move money between two wallets of one currency, atomically."""

    from_customer_id: CustomerId
    to_customer_id: CustomerId
    amount: Amount
    currency: Currency
    description: Description = ""


class HoldCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Reserve wallet money until it is posted, voided or expires."""

    amount: Amount
    currency: Currency
    expires_in_s: (
        Annotated[
            int,
            msgspec.Meta(
                description="Seconds until the hold lapses (at most 30 days); none: no expiry.",
            ),
        ]
        | None
    ) = None
    description: Description = ""


class HoldPost(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Capture a pending hold, in full (no amount) or in part; the rest is released."""

    amount: Amount | None = None
    to_customer_id: (
        Annotated[
            str,
            msgspec.Meta(
                description="The wallet to credit; none: the money leaves the ledger (payout).",
            ),
        ]
        | None
    ) = None
    description: Description = ""


class HoldVoid(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Release a pending hold without moving money."""

    reason: Annotated[
        str, msgspec.Meta(max_length=HOLD_REASON_LENGTH_MAX, pattern=NO_NUL_PATTERN)
    ] = "voided"


# Payments (seed 001). The amount is deliberately not limited to positive values here: the
# payment rules record a request for zero or less as FAILED `INVALID_AMOUNT` (and an empty
# currency or recipient as FAILED `INVALID_REQUEST`), so auditors see every attempt.
PAYMENT_AMOUNT_LIMIT = AMOUNT_MINOR_MAX
PARTY_LENGTH_MAX = 200  # payer, recipient and payee ids
CARD_NUMBER_LENGTH_MAX = 32
CARD_CVC_LENGTH_MAX = 8
PAYMENT_METHOD_LENGTH_MAX = 255
REFUND_REASON_LENGTH_MAX = 200

PaymentAmount = Annotated[
    int,
    msgspec.Meta(
        ge=-PAYMENT_AMOUNT_LIMIT,
        le=PAYMENT_AMOUNT_LIMIT,
        examples=[25000],
        description="Integer minor units: 25000 is 250.00 USD. Zero or less is recorded as "
        "a payment FAILED with `INVALID_AMOUNT`.",
    ),
]
Party = Annotated[str, msgspec.Meta(max_length=PARTY_LENGTH_MAX, pattern=NO_NUL_PATTERN)]


class CardIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Raw card details: tokenized at once, never stored, logged or returned (the payment
    shows only the brand and the last four digits)."""

    number: Annotated[
        str, msgspec.Meta(max_length=CARD_NUMBER_LENGTH_MAX, examples=["4242424242424242"])
    ]
    exp_month: Annotated[int, msgspec.Meta(ge=1, le=12)]
    exp_year: Annotated[int, msgspec.Meta(ge=0, le=9999)]
    cvc: Annotated[str, msgspec.Meta(max_length=CARD_CVC_LENGTH_MAX)] = ""

    def __repr__(self) -> str:  # a PAN must never reach a log line, even via a traceback
        return f"CardIn(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


class SplitIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A payee's share: either `amount` (minor units) or `bps` (basis points of the rest)."""

    payee: Party
    bps: int | None = None
    amount: int | None = None


class PaymentCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Pay a recipient from a wallet or a card, optionally split between payees.

    A request that breaks a payment rule is not refused: it is recorded as FAILED with the
    reason (`INVALID_AMOUNT`, `FRAUD_SUSPECTED`, `INVALID_REQUEST`)."""

    amount: PaymentAmount
    currency: Annotated[str, msgspec.Meta(max_length=8, examples=["USD"])]
    recipient: Party
    method: Literal["wallet", "card"]
    payer_id: Party = ""
    card: CardIn | None = None
    payment_method: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=PAYMENT_METHOD_LENGTH_MAX,
                pattern=NO_NUL_PATTERN,
                description="A gateway payment-method token, instead of `card`.",
            ),
        ]
        | None
    ) = None
    description: Description = ""
    splits: Annotated[list[SplitIn], msgspec.Meta(max_length=SPLITS_MAX)] = []


class RefundCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Refund all that is left of a payment (no amount) or part of it."""

    amount: Amount | None = None
    reason: Annotated[
        str, msgspec.Meta(max_length=REFUND_REASON_LENGTH_MAX, pattern=NO_NUL_PATTERN)
    ] = ""
