"""Outbound webhooks as use cases return them (and the API shows them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec


class WebhookEventType(StrEnum):
    """The event types PayLedger sends (seed 001's status changes, seed 003's charges)."""

    PAYMENT_STATUS_CHANGED = "payment.status_changed"
    PAYMENT_REFUNDED = "payment.refunded"
    CHARGE_SUCCEEDED = "charge.succeeded"
    CHARGE_FAILED = "charge.failed"


class EndpointStatus(StrEnum):
    """`active`; `disabled` after a receiver answered 410 Gone; `deleted` by its owner."""

    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class DeliveryStatus(StrEnum):
    """`pending` until an attempt got a 2xx (`succeeded`) or retries ended (`failed`)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


GLOBAL_CUSTOMER = ""  # the owner of endpoints from configuration: admins and auditors see them


class WebhookEndpoint(msgspec.Struct, frozen=True):
    """Where a customer's (or, from configuration, every) event is sent."""

    id: UUID
    customer_id: str | None  # None: a global endpoint from configuration
    url: str
    event_types: list[WebhookEventType]
    description: str
    status: EndpointStatus
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class WebhookEndpointCreated(msgspec.Struct, frozen=True):
    """A new endpoint and its signing secret: shown this once, keep it."""

    id: UUID
    customer_id: str | None
    url: str
    event_types: list[WebhookEventType]
    description: str
    status: EndpointStatus
    created_at: datetime
    secret: str


class WebhookEndpointList(msgspec.Struct, frozen=True):
    endpoints: list[WebhookEndpoint]


class WebhookAttempt(msgspec.Struct, frozen=True):
    """One try to deliver: the receiver's status code (None: no answer) and latency."""

    attempt: int
    attempted_at: datetime
    response_code: int | None
    latency_ms: int
    error: str | None


class WebhookDelivery(msgspec.Struct, frozen=True):
    """One event to one endpoint (seed 003's webhook log): its payload and every attempt."""

    id: UUID
    message_id: str  # the `webhook-id` header: the same on every attempt and replay
    endpoint_id: UUID
    url: str
    customer_id: str | None
    event_type: WebhookEventType
    payload: msgspec.Raw
    status: DeliveryStatus
    attempts: int
    response_code: int | None  # of the last attempt
    latency_ms: int | None  # of the last attempt
    last_error: str | None
    next_attempt_at: datetime | None  # while pending
    created_at: datetime
    delivered_at: datetime | None
    position: int  # the log position of the event it tells about
    attempt_log: list[WebhookAttempt] = []


class WebhookDeliveryPage(msgspec.Struct, frozen=True):
    """Deliveries newest first; pass `next_cursor` for the next page."""

    deliveries: list[WebhookDelivery]
    next_cursor: str | None
