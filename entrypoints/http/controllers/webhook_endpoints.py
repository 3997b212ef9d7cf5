"""Outbound webhook endpoints: where a customer's payment events are sent (signed)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from application.principal import Principal
from application.webhook_results import (
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEventType,
)
from application.webhooks import WebhookService
from domain.money import CUSTOMER_ID_LENGTH_MAX
from entrypoints.http.auth import ApiController
from entrypoints.http.bodies import TEXT_PATTERN, CustomerId, Description
from entrypoints.http.problems import problem_responses
from entrypoints.http.writes import in_thread

URL_LENGTH_MAX = 2_000

EndpointId = Annotated[UUID, PathParameter(description="The webhook endpoint's id.")]
WebhookUrl = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=URL_LENGTH_MAX,
        pattern=TEXT_PATTERN,
        examples=["https://merchant.example/hooks/payledger"],
        description="http(s) URL of a public address (private, loopback and other special "
        "addresses are refused: 422 `webhook_url_refused`).",
    ),
]


class WebhookEndpointCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Register an endpoint; its signing secret (whsec_...) is in the answer, once."""

    url: WebhookUrl
    event_types: Annotated[list[WebhookEventType], msgspec.Meta(max_length=16)] = []
    description: Description = ""
    customer_id: CustomerId | None = None  # admins register for a customer; default: caller


class WebhookEndpointController(ApiController):
    path = "/webhook-endpoints"
    tags = ["webhooks"]

    @post(
        "/",
        operation_id="CreateWebhookEndpoint",
        summary="Register a webhook endpoint (the secret is shown this once)",
        status_code=201,
        responses=problem_responses(401, 404),
    )
    @inject
    async def create_endpoint(
        self,
        data: JSONBody[WebhookEndpointCreate],
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
    ) -> WebhookEndpointCreated:
        return await in_thread(
            webhooks.register_endpoint,
            principal,
            data.url,
            [str(t) for t in data.event_types],
            data.description,
            data.customer_id,
        )

    @get(
        "/",
        operation_id="ListWebhookEndpoints",
        summary="Webhook endpoints: the caller's (admins and auditors: everyone's)",
        responses=problem_responses(401),
    )
    @inject
    async def list_endpoints(
        self,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
        customer_id: Annotated[
            str | None,
            QueryParameter(max_length=CUSTOMER_ID_LENGTH_MAX, pattern=TEXT_PATTERN),
        ] = None,
    ) -> WebhookEndpointList:
        return await in_thread(webhooks.list_endpoints, principal, customer_id)

    @get(
        "/{endpoint_id:uuid}",
        operation_id="GetWebhookEndpoint",
        summary="A webhook endpoint (without its secret)",
        responses=problem_responses(401, 404),
    )
    @inject
    async def get_endpoint(
        self,
        endpoint_id: EndpointId,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
    ) -> WebhookEndpoint:
        return await in_thread(webhooks.get_endpoint, principal, endpoint_id)

    @delete(
        "/{endpoint_id:uuid}",
        operation_id="DeleteWebhookEndpoint",
        status_code=204,
        summary="Delete a webhook endpoint: nothing more is sent to it",
        responses=problem_responses(401, 404, 409),
    )
    @inject
    async def delete_endpoint(
        self,
        endpoint_id: EndpointId,
        principal: NamedDependency[Principal],
        webhooks: FromDishka[WebhookService],
    ) -> None:
        await in_thread(webhooks.delete_endpoint, principal, endpoint_id)
