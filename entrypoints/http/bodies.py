"""Request bodies: strict msgspec structs (no unknown fields, no type coercion).

Amounts are integers of minor units (`25000` is 250.00 USD). Currencies and customer ids are
plain strings here: the domain checks them and answers with its own codes
(`unknown_currency`, `invalid_customer_id`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from application.ledger import DESCRIPTION_LENGTH_MAX
from domain.money import AMOUNT_MINOR_MAX

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
