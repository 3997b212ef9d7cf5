"""Inbound gateway webhooks: Stripe tells us how a payment attempt ended.

The signature is checked over the raw request bytes (never re-serialized JSON), with a
300-second tolerance; the event is deduplicated by Stripe's event id in the ledger itself,
so a replayed delivery changes nothing. The endpoint is public (Stripe has no token of
ours): the signature is its authentication.
"""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, post

from adapters.gateways.stripe_gateway import KEY_METADATA_FIELD, card_failure_code
from adapters.gateways.stripe_webhooks import WebhookSignatureError, verify_stripe_event
from application.payments import PaymentService
from entrypoints.http.problems import ProblemError, problem_responses
from entrypoints.http.writes import in_thread
from entrypoints.settings import Settings

SIGNATURE_TOLERANCE_S = 300


class WebhookResult(msgspec.Struct, frozen=True):
    """`duplicate`, `ignored`, or the payment's status after the event."""

    event_id: str
    result: str


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _failure_code(intent: dict[str, Any]) -> str:
    error = intent.get("last_payment_error")
    if not isinstance(error, dict):
        return card_failure_code(None, None)
    return card_failure_code(_text(error.get("decline_code")), _text(error.get("code")))


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post(
        "/stripe",
        operation_id="ReceiveStripeWebhook",
        summary="Stripe events (signed): settle payments whose outcome was pending",
        status_code=200,
        responses=problem_responses(400, 503),
    )
    @inject
    async def stripe(
        self,
        request: Request[Any, Any, Any],
        service: FromDishka[PaymentService],
        settings: FromDishka[Settings],
    ) -> WebhookResult:
        if not settings.stripe_webhook_secret:
            raise ProblemError(
                503, "webhooks_not_configured", "PAYLEDGER_STRIPE_WEBHOOK_SECRET is not set."
            )
        payload = await request.body()
        try:
            event = verify_stripe_event(
                payload,
                request.headers.get("stripe-signature"),
                settings.stripe_webhook_secret,
                SIGNATURE_TOLERANCE_S,
            )
        except WebhookSignatureError as error:
            raise ProblemError(
                400, "invalid_signature", f"The webhook signature does not verify ({error.reason})."
            ) from None
        intent = event.object
        metadata = intent.get("metadata") or {}
        result = await in_thread(
            service.apply_gateway_event,
            event.id,
            event.type,
            str(metadata.get(KEY_METADATA_FIELD, "")),
            str(intent.get("id", "")),
            _failure_code(intent),
        )
        return WebhookResult(event.id, result)
