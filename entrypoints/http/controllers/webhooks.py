"""Inbound gateway webhooks: the gateway tells us how a payment attempt ended.

The gateway adapter verifies the signature over the raw request bytes (never re-serialized
JSON) and translates the event into the application's words; the settlement deduplicates it
by the gateway's event id in the ledger itself, so a replayed delivery changes nothing. The
endpoint is public (the gateway has no token of ours): the signature is its authentication.
"""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, post

from application.ports.gateway import GatewayWebhooks
from application.settlement import PaymentSettlement
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import in_thread


class WebhookResult(msgspec.Struct, frozen=True):
    """`duplicate`, `ignored`, or the payment's status after the event."""

    event_id: str
    result: str


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post(
        "/stripe",
        operation_id="ReceiveStripeWebhook",
        summary="Stripe events (signed): settle payments whose outcome was pending",
        status_code=200,
        responses=problem_responses(400, 404, 503),
    )
    @inject
    async def stripe(
        self,
        request: Request[Any, Any, Any],
        webhooks: FromDishka[GatewayWebhooks],
        settlement: FromDishka[PaymentSettlement],
    ) -> WebhookResult:
        notice = webhooks.read(await request.body(), request.headers)
        result = await in_thread(settlement.apply_gateway_notice, notice)
        return WebhookResult(notice.event_id, result)
