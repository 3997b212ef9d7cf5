"""The outbound webhook delivery log (seed 003's `GET /webhooks`), and replays.

Shares the `/webhooks` prefix with the inbound gateway webhook (`POST /webhooks/stripe`,
public, in webhooks.py): that one stays first in routing, these need a token.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from application.principal import Principal
from application.webhook_results import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEventType,
)
from application.webhooks import WebhookService
from entrypoints.http.auth import ApiController
from entrypoints.http.params import PAGE_SIZE_DEFAULT, DeliveryCursor, PageSize
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import in_thread

DeliveryId = Annotated[UUID, PathParameter(description="The webhook delivery's id.")]


class WebhookDeliveryController(ApiController):
    path = "/webhooks"
    tags = ["webhooks"]

    @get(
        "/",
        operation_id="ListWebhookDeliveries",
        summary="The webhook delivery log, newest first (the caller's; readers: all)",
        responses=problem_responses(400, 401),
    )
    @inject
    async def list_deliveries(
        self,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
        endpoint_id: Annotated[UUID | None, QueryParameter()] = None,
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        event_type: Annotated[WebhookEventType | None, QueryParameter()] = None,
        cursor: DeliveryCursor = None,
        limit: PageSize = PAGE_SIZE_DEFAULT,
    ) -> WebhookDeliveryPage:
        return await in_thread(
            webhooks.list_deliveries,
            principal,
            endpoint_id=endpoint_id,
            status=status,
            event_type=event_type,
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/{delivery_id:uuid}",
        operation_id="GetWebhookDelivery",
        summary="A webhook delivery: payload, status and every attempt",
        responses=problem_responses(401, 404),
    )
    @inject
    async def get_delivery(
        self,
        delivery_id: DeliveryId,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
    ) -> WebhookDelivery:
        return await in_thread(webhooks.get_delivery, principal, delivery_id)

    @post(
        "/{delivery_id:uuid}/replay",
        operation_id="ReplayWebhookDelivery",
        summary="Send a delivery again now (same webhook-id)",
        status_code=202,
        responses=problem_responses(401, 404, 409),
    )
    @inject
    async def replay_delivery(
        self,
        delivery_id: DeliveryId,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
    ) -> WebhookDelivery:
        return await in_thread(webhooks.replay_delivery, principal, delivery_id)
