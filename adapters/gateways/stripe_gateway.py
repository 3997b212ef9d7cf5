"""Stripe as the card processor, through the official SDK's `StripeClient` (API v1).

How Stripe's answers map onto the port's outcomes, and why:

- A PaymentIntent in status `succeeded` is `succeeded`; `processing` is `unknown`; any other
  status (`requires_action`: 3-D Secure, which a server-side confirm cannot complete;
  `requires_payment_method`, `canceled`) is `failed` CARD_DECLINED.
- `CardError` (HTTP 402) is Stripe's definite word about this key: `failed`, with the code from
  `decline_code`, then `code` (see `_CARD_CODES`). `InvalidRequestError` (400/404) is definite
  too (same key and body give the same answer): `failed`, INVALID_CARD when it is about the
  payment method, else PROCESSING_ERROR.
- Everything else is `unknown`, so the caller asks again later with the same idempotency key:
  - connection errors and timeouts: the request may have reached Stripe and charged;
  - 5xx (and 409, a request with the same key still running): the endpoint may have executed.
    Stripe saves a 5xx under the key and replays it, so a retry can stay `unknown` until the
    webhook settles the payment;
  - 429, 401 and 403: Stripe refused before executing *this* call, but the adapter cannot
    tell a first attempt from a reconciliation retry whose earlier call may have charged. A
    `failed` here would let the caller start a new attempt with a new key: a double charge;
  - `IdempotencyError` (the key was used with other parameters): the earlier request with
    this key may have charged, so this is no proof of failure either.

So GATEWAY_UNAVAILABLE comes only from `tokenize` (nothing can be charged there).

A Checkout Session is read by its `status` and `payment_status` (`session_outcome`): complete
and paid is `succeeded` (the reference is its PaymentIntent); expired is `failed`
CHECKOUT_EXPIRED; open, or complete but not yet paid (a delayed payment method), `unknown`.
Cancelling expires the session at Stripe, so it can no longer be paid, before anything is
recorded; a session that is no longer open answers as it stands.

The SDK writes every request body to the `stripe` logger at DEBUG; `tokenize` sends card
details for cards that are not Stripe test cards, so a filter on that logger redacts them.
(`STRIPE_LOG=debug` also prints bodies to stderr, outside `logging`: never set it.)
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import stripe

from adapters.gateways.cards import TEST_CARDS, check_card
from application.errors import CardRejectedError
from application.ports.gateway import (
    CARD_DECLINED,
    CHECKOUT_CANCELLED,
    CHECKOUT_EXPIRED,
    EXPIRED_CARD,
    GATEWAY_UNAVAILABLE,
    INSUFFICIENT_FUNDS,
    INVALID_CARD,
    PROCESSING_ERROR,
    Card,
    CardToken,
    ChargeRequest,
    ChargeResult,
    CheckoutSession,
    CheckoutUnavailableError,
    RefundRequest,
    RefundResult,
)

# Our idempotency key travels in the metadata of every PaymentIntent, refund and checkout
# session, so a webhook handler can find the attempt an event is about.
KEY_METADATA_FIELD = "idempotency_key"
CHECKOUT_PRODUCT_NAME = "Payment"
# Sessions lapse after this long unpaid (Stripe accepts 30 minutes to 24 hours), so an
# abandoned checkout settles as expired instead of being asked about for a day.
CHECKOUT_SESSION_TTL_S = 35 * 60

# Stripe `decline_code` or `code` -> our failure code; unlisted card errors are CARD_DECLINED.
_CARD_CODES: dict[str, str] = {
    "insufficient_funds": INSUFFICIENT_FUNDS,
    "expired_card": EXPIRED_CARD,
    "incorrect_number": INVALID_CARD,
    "invalid_number": INVALID_CARD,
    "invalid_expiry_month": INVALID_CARD,
    "invalid_expiry_year": INVALID_CARD,
    "incorrect_cvc": INVALID_CARD,
    "invalid_cvc": INVALID_CARD,
    "processing_error": PROCESSING_ERROR,
    "card_declined": CARD_DECLINED,
}


class StripeCheckoutError(CheckoutUnavailableError):
    """Stripe did not create the checkout session."""


class StripePaymentGateway:
    """The `PaymentGateway` port over Stripe's PaymentIntents, Refunds and Checkout Sessions.

    `timeout_s` bounds each HTTP request (connect, and each read); `max_network_retries` is
    how often the SDK itself retries a connection error, 409 or 5xx with the same idempotency
    key (0: the caller's reconciliation decides)."""

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        timeout_s: float = 10.0,
        max_network_retries: int = 0,
    ) -> None:
        if not api_key:
            raise ValueError("A Stripe API key is required.")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive.")
        if max_network_retries < 0:
            raise ValueError("max_network_retries must not be negative.")
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.max_network_retries = max_network_retries
        # RequestsClient: synchronous, honours the timeout (HTTPXClient refuses synchronous
        # calls unless built with allow_sync_methods=True) and is a dependency of the SDK.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_s),
        )
        _redact_card_details_in_sdk_logs()

    def __repr__(self) -> str:  # never the API key
        return (
            f"StripePaymentGateway(api_base={self.api_base!r}, timeout_s={self.timeout_s}, "
            f"max_network_retries={self.max_network_retries})"
        )

    def tokenize(self, card: Card) -> CardToken:
        """Check the card locally, then map a Stripe test number to Stripe's test
        PaymentMethod (`pm_card_visa`...) or create a card PaymentMethod. Raises
        `CardRejectedError`; GATEWAY_UNAVAILABLE when Stripe could not be asked."""
        checked = check_card(card, datetime.now(UTC).date())
        test_card = TEST_CARDS.get(checked.digits)
        if test_card is not None and test_card.stripe_token:
            return CardToken(test_card.stripe_token, checked.brand, checked.last4)
        try:
            method = self._client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {
                        "number": checked.digits,
                        "exp_month": checked.exp_month,
                        "exp_year": checked.exp_year,
                        **({"cvc": card.cvc} if card.cvc else {}),
                    },
                }
            )
        except stripe.CardError as error:
            raise CardRejectedError(_card_failure_code(error), _message(error)) from None
        except stripe.InvalidRequestError as error:
            raise CardRejectedError(PROCESSING_ERROR, _message(error)) from None
        except stripe.StripeError as error:
            raise CardRejectedError(GATEWAY_UNAVAILABLE, _message(error)) from None
        details = getattr(method, "card", None)
        brand = getattr(details, "brand", None) or checked.brand
        last4 = getattr(details, "last4", None) or checked.last4
        return CardToken(method.id, brand, last4)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Create and confirm a PaymentIntent under our idempotency key (see the module
        docstring for the mapping). Never raises for a decline or an outage."""
        params: Any = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "confirm": True,
            # Confirming on the server needs either a return_url or no redirect-based methods.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {KEY_METADATA_FIELD: request.idempotency_key},
        }
        if request.description:
            params["description"] = request.description
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as error:
            return ChargeResult(
                "failed", _intent_id(error), _card_failure_code(error), _message(error)
            )
        except stripe.InvalidRequestError as error:
            code = INVALID_CARD if error.param == "payment_method" else PROCESSING_ERROR
            return ChargeResult("failed", _intent_id(error), code, _message(error))
        except stripe.StripeError as error:
            return ChargeResult("unknown", message=_message(error))
        if intent.status == "succeeded":
            return ChargeResult("succeeded", intent.id)
        if intent.status == "processing":
            return ChargeResult("unknown", intent.id, message="The payment is processing.")
        return ChargeResult(
            "failed", intent.id, CARD_DECLINED, f"The payment ended in status {intent.status}."
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a PaymentIntent under our idempotency key. A `pending`
        refund is `unknown` until it settles."""
        try:
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": request.reference,
                    "amount": request.amount_minor,
                    "metadata": {KEY_METADATA_FIELD: request.idempotency_key},
                },
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.CardError as error:
            return RefundResult("failed", "", _card_failure_code(error), _message(error))
        except stripe.InvalidRequestError as error:
            return RefundResult("failed", "", PROCESSING_ERROR, _message(error))
        except stripe.StripeError as error:
            return RefundResult("unknown", message=_message(error))
        if refund.status == "succeeded":
            return RefundResult("succeeded", refund.id)
        if refund.status in ("failed", "canceled"):
            return RefundResult(
                "failed", refund.id, PROCESSING_ERROR, f"The refund {refund.status}."
            )
        return RefundResult("unknown", refund.id, message=f"The refund is {refund.status}.")

    def create_checkout_session(
        self,
        amount_minor: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted Checkout Session (mode payment, one line of `amount_minor`). Raises
        `StripeCheckoutError` when Stripe does not create it."""
        metadata = {KEY_METADATA_FIELD: idempotency_key}
        try:
            session = self._client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": currency.lower(),
                                "unit_amount": amount_minor,
                                "product_data": {"name": CHECKOUT_PRODUCT_NAME},
                            },
                        }
                    ],
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "expires_at": int(time.time()) + CHECKOUT_SESSION_TTL_S,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise StripeCheckoutError(_message(error)) from None
        if not session.url:
            raise StripeCheckoutError("Stripe returned a checkout session without a URL.")
        return CheckoutSession(session.id, session.url)

    def checkout_status(self, session_id: str) -> ChargeResult:
        """Retrieve the Checkout Session and read its outcome (`session_outcome`); a session
        Stripe does not know can never be paid: `failed` CHECKOUT_EXPIRED."""
        try:
            session = self._client.v1.checkout.sessions.retrieve(session_id)
        except stripe.InvalidRequestError as error:
            return ChargeResult("failed", "", CHECKOUT_EXPIRED, _message(error))
        except stripe.StripeError as error:
            return ChargeResult("unknown", message=_message(error))
        return session_outcome(session.status, session.payment_status, session.payment_intent)

    def cancel_checkout(self, session_id: str) -> ChargeResult:
        """Expire an open session (`failed` CHECKOUT_CANCELLED); a session that is no longer
        open (paid meanwhile, or expired) answers as it stands."""
        try:
            self._client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError:
            return self.checkout_status(session_id)
        except stripe.StripeError as error:
            return ChargeResult("unknown", message=_message(error))
        return ChargeResult("failed", "", CHECKOUT_CANCELLED, "The payer cancelled the checkout.")


def session_outcome(status: str | None, payment_status: str | None, intent: Any) -> ChargeResult:
    """A Checkout Session's `status`, `payment_status` and `payment_intent` (an id or an
    expanded object) as an outcome (see the module docstring)."""
    reference = intent if isinstance(intent, str) else str(getattr(intent, "id", "") or "")
    if status == "complete" and payment_status in ("paid", "no_payment_required"):
        return ChargeResult("succeeded", reference)
    if status == "expired":
        return ChargeResult("failed", reference, CHECKOUT_EXPIRED, "The session expired unpaid.")
    return ChargeResult("unknown", reference, message=f"The session is {status}/{payment_status}.")


def card_failure_code(decline_code: str | None, code: str | None) -> str:
    """Our failure code for Stripe's card error codes (also used for webhook events)."""
    if decline_code and decline_code in _CARD_CODES:  # the issuer's reason is the finer one
        return _CARD_CODES[decline_code]
    return _CARD_CODES.get(code or "", CARD_DECLINED)


def _card_failure_code(error: stripe.CardError) -> str:
    details = error.error
    return card_failure_code(details.decline_code if details else None, error.code)


def _intent_id(error: stripe.StripeError) -> str:
    """The PaymentIntent Stripe created before refusing (a decline leaves one behind)."""
    intent = error.error.payment_intent if error.error else None
    return intent.id if intent is not None else ""


def _message(error: stripe.StripeError) -> str:
    """A short, PAN-free description: the class, Stripe's code and its message."""
    details = error.error
    text = (details.message if details else None) or str(error) or "no message"
    code = f" {error.code}" if error.code else ""
    return f"{type(error).__name__}{code}: {text}"[:500]


_CARD_FIELD = re.compile(r"(card(?:%5B|\[)(?:number|cvc)(?:%5D|\])=)[^&\s'\"]*")
_LONG_DIGITS = re.compile(r"\d{13,19}")


class _CardDetailsRedactor(logging.Filter):
    """Blanks card numbers and security codes in the SDK's DEBUG log of request bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = _LONG_DIGITS.sub("[redacted]", _CARD_FIELD.sub(r"\1[redacted]", text))
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


def _redact_card_details_in_sdk_logs() -> None:
    logger = logging.getLogger("stripe")
    if not any(isinstance(f, _CardDetailsRedactor) for f in logger.filters):
        logger.addFilter(_CardDetailsRedactor())
