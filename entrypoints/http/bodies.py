"""Request bodies: strict msgspec structs (no unknown fields, no type coercion).

Amounts are integers of minor units (`25000` is 250.00 USD). Every string that can reach an
event is checked here first: no control characters (C0, DEL, C1: PostgreSQL read models
cannot store NUL, and nothing else needs them), within its length limit; currencies are three
upper-case letters. The domain checks the same again (`domain/text.py`) and more (a known
ISO 4217 code, printable customer ids, no card number in any text), answering with its own
codes (`unknown_currency`, `invalid_customer_id`, `card_number_in_text`).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from application.transactions import StatusChange
from domain.money import AMOUNT_MINOR_MAX, CUSTOMER_ID_LENGTH_MAX
from domain.splits import SPLITS_MAX
from domain.text import (
    DESCRIPTION_LENGTH_MAX,
    PARTY_LENGTH_MAX,
    REASON_LENGTH_MAX,
    TOKEN_LENGTH_MAX,
)

# msgspec matches patterns with `re.search`, where `$` also matches before a final newline:
# the lookahead `(?!\n)` closes that gap (and means nothing to an ECMA-262 reader).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$(?!\n)"
CURRENCY_PATTERN = r"^[A-Z]{3}$(?!\n)"
PAYMENT_CURRENCY_PATTERN = r"^([A-Z]{3})?$(?!\n)"

# What the patterns mean, for people (a regex in an error message helps nobody).
_PATTERN_MEANINGS = {
    TEXT_PATTERN: "Expected text without control characters",
    CURRENCY_PATTERN: "Expected an ISO 4217 currency code: three upper-case letters",
    PAYMENT_CURRENCY_PATTERN: "Expected an ISO 4217 currency code (three upper-case letters) "
    "or nothing",
}


def readable(message: str) -> str:
    """A validation message naming a pattern the request broke, said in words instead."""
    for pattern, meaning in _PATTERN_MEANINGS.items():
        if f"matching regex {pattern!r}" in message:
            return meaning
    return message


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
        pattern=CURRENCY_PATTERN,
        examples=["USD"],
        description="ISO 4217 code: three upper-case letters.",
    ),
]
CustomerId = Annotated[
    str,
    msgspec.Meta(
        max_length=CUSTOMER_ID_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        examples=["alice"],
        description="The customer's opaque id (1 to 200 printable characters).",
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_LENGTH_MAX, pattern=TEXT_PATTERN)]
Reason = Annotated[str, msgspec.Meta(max_length=REASON_LENGTH_MAX, pattern=TEXT_PATTERN)]
PaymentMethodToken = Annotated[
    str,
    msgspec.Meta(
        max_length=TOKEN_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        description="A gateway payment-method token, instead of `card` (never a card number).",
    ),
]


class WalletCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Open a wallet: at most one per customer and currency."""

    customer_id: CustomerId
    currency: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=CURRENCY_PATTERN,
                examples=["USD"],
                description="ISO 4217 code; none: `PAYLEDGER_DEFAULT_CURRENCY` (USD unless "
                "configured), as seed 003 does.",
            ),
        ]
        | None
    ) = None
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


class TransactionCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Seed 004's new transaction: a transfer from your wallet to another customer's (an
    admin names the paying customer in `from_customer_id`)."""

    to_customer_id: CustomerId
    amount: Amount
    currency: Currency
    description: Description = ""
    from_customer_id: CustomerId | None = None


class TransactionStatusUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A state change of what stands behind a transaction: a pending hold `captured` or
    `voided`; a payment `refunded` (admins). Posted transactions themselves never change."""

    status: StatusChange
    amount: Amount | None = None  # part of the hold or payment (none: all of it)


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
                max_length=CUSTOMER_ID_LENGTH_MAX,
                pattern=TEXT_PATTERN,
                description="The wallet to credit; none: the money leaves the ledger (payout).",
            ),
        ]
        | None
    ) = None
    description: Description = ""


class HoldVoid(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Release a pending hold without moving money."""

    reason: Reason = "voided"


# Payments (seed 001). The amount is deliberately not limited to positive values here: the
# payment rules record a request for zero or less as FAILED `INVALID_AMOUNT` (and an empty
# currency or recipient as FAILED `INVALID_REQUEST`), so auditors see every attempt.
PAYMENT_AMOUNT_LIMIT = AMOUNT_MINOR_MAX
CARD_NUMBER_LENGTH_MAX = 32
EXPIRY_PATTERN = r"^(0[1-9]|1[0-2])/[0-9]{2}$(?!\n)"  # seed 000's "MM/YY"
CardNumber = Annotated[
    str,
    msgspec.Meta(
        max_length=CARD_NUMBER_LENGTH_MAX, pattern=TEXT_PATTERN, examples=["4242424242424242"]
    ),
]
CARD_CVC_LENGTH_MAX = 8

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
Party = Annotated[str, msgspec.Meta(max_length=PARTY_LENGTH_MAX, pattern=TEXT_PATTERN)]
# Seed 001 records a payment with no currency as FAILED `INVALID_REQUEST`: empty is allowed
# here, and so is an unknown code (recorded as a rule failure too).
PaymentCurrency = Annotated[
    str,
    msgspec.Meta(
        pattern=PAYMENT_CURRENCY_PATTERN,
        examples=["USD"],
        description="ISO 4217 code. Empty, or a code that is not ISO 4217, is recorded as a "
        "payment FAILED with `INVALID_REQUEST`.",
    ),
]


class CardIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Raw card details: tokenized at once, never stored, logged or returned (the payment
    shows only the brand and the last four digits)."""

    number: Annotated[
        str,
        msgspec.Meta(
            max_length=CARD_NUMBER_LENGTH_MAX,
            pattern=TEXT_PATTERN,
            examples=["4242424242424242"],
        ),
    ]
    exp_month: Annotated[int, msgspec.Meta(ge=1, le=12)]
    exp_year: Annotated[int, msgspec.Meta(ge=0, le=9999)]
    cvc: Annotated[str, msgspec.Meta(max_length=CARD_CVC_LENGTH_MAX, pattern=TEXT_PATTERN)] = ""

    def __repr__(self) -> str:  # a PAN must never reach a log line, even via a traceback
        return f"CardIn(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


class SplitIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A payee's share: either `amount` (minor units) or `bps` (basis points of the rest)."""

    payee: Party
    bps: int | None = None
    amount: int | None = None


class PaymentCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Pay a recipient from a wallet, a card, or through the legacy processor (seed 001's
    body: no `method`), optionally split between payees; `amount`, `currency` and
    `recipient` are required.

    Or pay for a trip registration (seed 000's body): `registration_id`, `card_number`,
    `expiry_date` ("MM/YY") and `cvv`, and nothing else: the amount is the trip's price.

    A request that breaks a payment rule is not refused: it is recorded as FAILED with the
    reason (`INVALID_AMOUNT`, `FRAUD_SUSPECTED`, `INVALID_REQUEST`)."""

    amount: PaymentAmount | None = None
    currency: PaymentCurrency | None = None
    recipient: Party | None = None
    method: Annotated[
        Literal["wallet", "card", "legacy"],
        msgspec.Meta(
            description="What pays: the payer's wallet, a card, or (none given) the simulated "
            "legacy processor seed 001's clients pay through (it takes no card)."
        ),
    ] = "legacy"
    payer_id: Party = ""
    card: CardIn | None = None
    payment_method: PaymentMethodToken | None = None
    description: Description = ""
    splits: Annotated[list[SplitIn], msgspec.Meta(max_length=SPLITS_MAX)] = []
    registration_id: UUID | None = None
    card_number: CardNumber | None = None
    expiry_date: (
        Annotated[
            str, msgspec.Meta(pattern=EXPIRY_PATTERN, examples=["12/30"], description="MM/YY")
        ]
        | None
    ) = None
    cvv: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{3,4}$(?!\n)")] | None = None

    def __post_init__(self) -> None:
        seed_000 = (self.card_number, self.expiry_date, self.cvv)
        if self.registration_id is not None:
            if None in seed_000:
                raise ValueError(
                    "A registration is paid with `card_number`, `expiry_date` and `cvv`."
                )
            payment_fields = (
                self.amount,
                self.currency,
                self.recipient,
                self.card,
                self.payment_method,
            )
            chosen = self.method != "legacy" or self.payer_id or self.description or self.splits
            if chosen or any(part is not None for part in payment_fields):
                raise ValueError(
                    "A registration's payment names the registration and the card only: "
                    "the amount is the trip's price"
                )
        elif any(part is not None for part in seed_000):
            raise ValueError("`card_number`, `expiry_date` and `cvv` pay a `registration_id`.")
        elif self.amount is None or self.currency is None or self.recipient is None:
            raise ValueError("A payment needs `amount`, `currency` and `recipient`.")


class RefundCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Refund all that is left of a payment (no amount) or part of it."""

    amount: Amount | None = None
    reason: Reason = ""
