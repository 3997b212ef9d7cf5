"""Checking Stripe's webhook signatures over the raw request body.

Stripe signs `"<t>.<raw body>"` with HMAC-SHA256 under the endpoint's secret and sends
`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`. The SDK checks the HMAC; this
module also tells apart why a request was refused, and rejects timestamps too far from now in
either direction (the SDK only rejects old ones).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec
import stripe

from adapters.gateways.stripe_gateway import (
    KEY_METADATA_FIELD,
    card_failure_code,
    session_outcome,
)
from application.errors import WebhookRejectedError, WebhooksNotConfiguredError
from application.ports.gateway import (
    CARD_DECLINED,
    CHECKOUT_EXPIRED,
    ChargeResult,
    GatewayNotice,
    Outcome,
)

# A header with more parts than this is not Stripe's (it sends t, v1 and at most a few more).
HEADER_PARTS_MAX = 16


class WebhookSignatureError(Exception):
    """The webhook is not provably from Stripe, or is not a Stripe event; `reason` says why:
    missing_secret, missing_header, malformed_header, bad_signature, stale_timestamp,
    bad_payload."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GatewayEvent(msgspec.Struct, frozen=True):
    """What we use of a Stripe event: its id (to deduplicate), type and `data.object`."""

    id: str
    type: str
    object: dict[str, Any]


def verify_stripe_event(
    payload: bytes,
    signature_header: str | None,
    secret: str,
    tolerance_s: int = 300,
    *,
    now_s: float | None = None,
) -> GatewayEvent:
    """Verify `signature_header` over the raw `payload` bytes and decode the event.

    Raises `WebhookSignatureError` for a missing, malformed or wrong signature, a timestamp
    more than `tolerance_s` seconds from now (`now_s`, default the clock), or a body that is
    not a Stripe event."""
    if tolerance_s <= 0:
        raise ValueError("tolerance_s must be positive: a signature must not be valid forever.")
    if not secret:
        raise WebhookSignatureError("missing_secret")
    if not signature_header:
        raise WebhookSignatureError("missing_header")
    timestamp = _timestamp(signature_header)
    try:
        # tolerance=None: the SDK checks only the HMAC; the clock is checked below.
        stripe.WebhookSignature.verify_header(payload, signature_header, secret, None)
    except stripe.SignatureVerificationError:
        raise WebhookSignatureError("bad_signature") from None
    except UnicodeDecodeError:  # the SDK decodes the body as UTF-8 before hashing
        raise WebhookSignatureError("bad_payload") from None
    now = time.time() if now_s is None else now_s
    if abs(now - timestamp) > tolerance_s:
        raise WebhookSignatureError("stale_timestamp")
    return _decode_event(payload)


def _timestamp(header: str) -> int:
    parts = header.split(",")
    if len(parts) > HEADER_PARTS_MAX:
        raise WebhookSignatureError("malformed_header")
    pairs = [part.strip().partition("=") for part in parts]
    timestamps = [value for key, sep, value in pairs if key == "t" and sep]
    signatures = [value for key, sep, value in pairs if key == "v1" and sep and value]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise WebhookSignatureError("malformed_header")
    return int(timestamps[0])


def _decode_event(payload: bytes) -> GatewayEvent:
    try:
        event = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        raise WebhookSignatureError("bad_payload") from None
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    event_id = event.get("id") if isinstance(event, dict) else None
    event_type = event.get("type") if isinstance(event, dict) else None
    if not (isinstance(event_id, str) and isinstance(event_type, str) and isinstance(obj, dict)):
        raise WebhookSignatureError("bad_payload")
    return GatewayEvent(event_id, event_type, obj)


# Stripe's PaymentIntent events that settle an attempt, in our words.
_OUTCOMES: dict[str, Outcome] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
}
SIGNATURE_TOLERANCE_S = 300


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _failure_code(intent: dict[str, Any]) -> str:
    error = intent.get("last_payment_error")
    if not isinstance(error, dict):
        return card_failure_code(None, None)
    return card_failure_code(_text(error.get("decline_code")), _text(error.get("code")))


def _checkout_outcome(event_type: str, session: dict[str, Any]) -> ChargeResult:
    """A Checkout Session event's outcome: `completed` says paid, or not yet (a delayed
    payment method, settled later by `async_payment_*`); `expired` can never be paid."""
    intent = _text(session.get("payment_intent")) or ""
    if event_type == "checkout.session.completed":
        return session_outcome(
            _text(session.get("status")), _text(session.get("payment_status")), intent
        )
    if event_type == "checkout.session.async_payment_succeeded":
        return ChargeResult("succeeded", intent)
    if event_type == "checkout.session.async_payment_failed":
        return ChargeResult("failed", intent, CARD_DECLINED)
    if event_type == "checkout.session.expired":
        return ChargeResult("failed", intent, CHECKOUT_EXPIRED)
    return ChargeResult("unknown", intent)


def to_notice(event: GatewayEvent) -> GatewayNotice:
    """A Stripe event as the application understands it (`unknown`: settles nothing)."""
    intent = event.object
    metadata = intent.get("metadata")
    key = metadata.get(KEY_METADATA_FIELD) if isinstance(metadata, dict) else None
    if event.type.startswith("checkout.session."):
        found = _checkout_outcome(event.type, event.object)
        return GatewayNotice(
            event.id, str(key or ""), found.outcome, found.reference, found.failure_code
        )
    outcome = _OUTCOMES.get(event.type, "unknown")
    return GatewayNotice(
        event_id=event.id,
        attempt_key=str(key or ""),
        outcome=outcome,
        reference=str(intent.get("id", "")),
        failure_code=_failure_code(intent) if outcome == "failed" else "",
    )


class StripeWebhooks:
    """The `GatewayWebhooks` port for Stripe: verifies the signature over the raw body and
    translates the event. Without a signing secret every webhook is refused as
    unconfigured (never accepted unsigned)."""

    def __init__(self, secret: str, tolerance_s: int = SIGNATURE_TOLERANCE_S) -> None:
        self.secret = secret
        self.tolerance_s = tolerance_s

    def read(self, payload: bytes, headers: Mapping[str, str]) -> GatewayNotice:
        if not self.secret:
            raise WebhooksNotConfiguredError("PAYLEDGER_STRIPE_WEBHOOK_SECRET is not set.")
        try:
            event = verify_stripe_event(
                payload, headers.get("stripe-signature"), self.secret, self.tolerance_s
            )
        except WebhookSignatureError as error:
            raise WebhookRejectedError(error.reason) from None
        return to_notice(event)
