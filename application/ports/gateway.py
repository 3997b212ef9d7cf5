"""The PaymentGateway port: how the payments engine talks to a card processor.

Card numbers never enter the log: a card is tokenized at request time (`tokenize`) and only
the token, brand and last four digits are kept. Every charge carries our idempotency key, so
a retried call after an unknown outcome can never charge twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

import msgspec

# Failure codes a gateway may report (the payment's `failure_reason`).
CARD_DECLINED = "CARD_DECLINED"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
EXPIRED_CARD = "EXPIRED_CARD"
INVALID_CARD = "INVALID_CARD"
PROCESSING_ERROR = "PROCESSING_ERROR"
GATEWAY_UNAVAILABLE = "GATEWAY_UNAVAILABLE"
# A hosted checkout that ended without a payment: it lapsed, or the payer cancelled it.
CHECKOUT_EXPIRED = "CHECKOUT_EXPIRED"
CHECKOUT_CANCELLED = "CHECKOUT_CANCELLED"

# What a charge of the legacy processor carries instead of a card token: seed 001's
# payments name no card, so the processor charges its own account.
LEGACY_ACCOUNT_TOKEN = "legacy"  # noqa: S105 (a name for an account, not a secret)

# Only these are worth retrying: the next attempt may well succeed.
RETRYABLE_FAILURES = frozenset({PROCESSING_ERROR, GATEWAY_UNAVAILABLE})


class Card(msgspec.Struct, frozen=True):
    """Raw card details, only ever held in memory on the way to `tokenize`."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str = ""

    def __repr__(self) -> str:  # never let a PAN reach a log line
        return f"Card(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


class CardToken(msgspec.Struct, frozen=True):
    """What we keep of a card: the gateway's token, the brand and the last four digits."""

    token: str
    brand: str
    last4: str


class ChargeRequest(msgspec.Struct, frozen=True):
    """A charge of `token` (`LEGACY_ACCOUNT_TOKEN` at the legacy processor)."""

    amount_minor: int
    currency: str
    token: str
    idempotency_key: str
    description: str = ""


Outcome = Literal["succeeded", "failed", "unknown"]


class ChargeResult(msgspec.Struct, frozen=True):
    """`unknown` means the call may or may not have charged (a timeout): retry it with the
    same idempotency key, or look it up, before deciding."""

    outcome: Outcome
    reference: str = ""  # the gateway's id of the charge (e.g. a PaymentIntent id)
    failure_code: str = ""  # one of the codes above when `failed`
    message: str = ""


class RefundRequest(msgspec.Struct, frozen=True):
    reference: str
    amount_minor: int
    currency: str
    idempotency_key: str


class RefundResult(msgspec.Struct, frozen=True):
    outcome: Outcome
    reference: str = ""
    failure_code: str = ""
    message: str = ""


class GatewayNotice(msgspec.Struct, frozen=True):
    """What a gateway told us unprompted about one of our attempts (an inbound webhook),
    in our words: its event id (to deduplicate), our attempt key, and the outcome
    (`unknown` for events that settle nothing)."""

    event_id: str
    attempt_key: str
    outcome: Outcome
    reference: str = ""
    failure_code: str = ""


class GatewayWebhooks(Protocol):
    """Reads the gateway's signed webhooks (raw body and headers) into notices."""

    def read(self, payload: bytes, headers: Mapping[str, str]) -> GatewayNotice:
        """The notice; `application.errors.WebhookRejectedError` when it does not verify."""
        ...


class CheckoutSession(msgspec.Struct, frozen=True):
    """A hosted payment page the customer is redirected to."""

    id: str
    url: str


class CheckoutUnavailableError(Exception):
    """The gateway could not create a checkout session (down, refused); nothing was made."""


class PaymentGateway(Protocol):
    """A card processor. Implementations map their own errors to the codes above and never
    raise for a declined or failed charge: they return a result. They raise only
    `application.errors.CardRejectedError` from `tokenize` and `CheckoutUnavailableError` from
    `create_checkout_session`.

    A checkout session's outcome is read as a `ChargeResult`: `succeeded` once paid (the
    reference names the gateway's charge), `failed` with CHECKOUT_EXPIRED or
    CHECKOUT_CANCELLED once it can no longer be paid, `unknown` while it is open (or the
    gateway could not be asked)."""

    name: str

    def tokenize(self, card: Card) -> CardToken: ...

    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted payment page for one payment; `idempotency_key` (the payment's attempt
        key) travels with the session, so the gateway's events about it name the attempt."""
        ...

    def checkout_status(self, session_id: str) -> ChargeResult:
        """Where a checkout session stands (see above)."""
        ...

    def cancel_checkout(self, session_id: str) -> ChargeResult:
        """Close an open session so it can no longer be paid (the payer left through the
        cancel link); returns where it then stands: `failed` CHECKOUT_CANCELLED, or
        `succeeded` if it had been paid meanwhile."""
        ...


class LegacyGateway(PaymentGateway, Protocol):
    """The legacy processor seed 001's clients pay through (payment method `legacy`): it
    takes no card, so its charges carry `LEGACY_ACCOUNT_TOKEN`, and it decides by its own
    rules (the simulated one: a seeded draw at `PAYLEDGER_FAILURE_RATE`, `PROCESSING_ERROR`
    on failure). Legacy payments are settled and refunded here whatever the card gateway is
    (Stripe included)."""
