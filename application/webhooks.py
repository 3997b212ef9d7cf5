"""Outbound webhooks, the use cases: endpoints (register, list, read, delete) and the
delivery log (list, read, replay).

Endpoints live in a table, not in the event log: they are configuration of where to send,
not facts about money, they carry a secret that must be readable to sign (and would then
sit in the log forever), and the sender changes them (a 410 disables one) with a plain
UPDATE next to the deliveries it claims. Who did what to an endpoint is in the request log.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from application.errors import (
    InvalidCursorError,
    UnknownWebhookEventTypeError,
    WebhookDeliveryNotFoundError,
    WebhookEndpointConfiguredError,
    WebhookEndpointDisabledError,
    WebhookEndpointNotFoundError,
    WebhookEndpointsLimitError,
)
from application.ports.clock import Clock
from application.ports.webhooks import DeliveryFilter, UrlGuard, WebhookStore
from application.principal import Principal
from application.webhook_results import (
    GLOBAL_CUSTOMER,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEventType,
)
from application.webhook_signing import new_secret

ENDPOINTS_PER_CUSTOMER_MAX = 20
ENDPOINTS_LIST_MAX = 1_000
PAGE_SIZE_MAX = 200
ALL_EVENT_TYPES = tuple(WebhookEventType)


@dataclass(frozen=True)
class WebhookPolicy:
    """How deliveries are sent: timeouts, retries, concurrency (see `WebhookSender`)."""

    horizon_s: float = 3 * 24 * 3600.0  # retries end this long after an event
    timeout_s: float = 10.0  # per attempt: connect, and each read
    concurrency: int = 16  # attempts in flight per process
    per_endpoint_max: int = 2  # of which to one endpoint (a slow one holds no more)
    backoff_base_s: float = 5.0
    backoff_max_s: float = 6 * 3600.0
    poll_interval_s: float = 0.5  # how often an idle sender looks for due deliveries


def parse_event_types(names: Sequence[str] | None) -> list[WebhookEventType]:
    """Event types by name (None or empty: all of them), deduplicated, in the given order."""
    if not names:
        return list(ALL_EVENT_TYPES)
    chosen: list[WebhookEventType] = []
    for name in names:
        try:
            event_type = WebhookEventType(name)
        except ValueError:
            raise UnknownWebhookEventTypeError(
                f"Unknown webhook event type {name!r}: one of "
                + ", ".join(map(str, ALL_EVENT_TYPES))
            ) from None
        if event_type not in chosen:
            chosen.append(event_type)
    return chosen


DELIVERY_CURSOR_PATTERN = "^pos_[1-9][0-9]{0,17}_[0-9a-f]{32}$"


def encode_cursor(position: int, delivery_id: UUID) -> str:
    return f"pos_{position}_{delivery_id.hex}"


def decode_cursor(cursor: str) -> tuple[int, UUID]:
    if re.fullmatch(DELIVERY_CURSOR_PATTERN.strip("^$"), cursor) is None:
        raise InvalidCursorError()
    _, position, hex_id = cursor.split("_")
    return int(position), UUID(hex=hex_id)


class WebhookService:
    """Endpoints per customer and the delivery log; a customer sees their own, admins and
    auditors everything, and another's object is not found."""

    def __init__(
        self, store: WebhookStore, guard: UrlGuard, clock: Clock, policy: WebhookPolicy
    ) -> None:
        self.store = store
        self.guard = guard
        self.clock = clock
        self.policy = policy

    def register_endpoint(
        self,
        principal: Principal,
        url: str,
        event_types: Sequence[str] | None = None,
        description: str = "",
        customer_id: str | None = None,
    ) -> WebhookEndpointCreated:
        """A new endpoint of `customer_id` (default: the caller); its secret is returned
        this once. The URL is refused unless it is http(s) to a public address."""
        owner = customer_id or principal.subject
        principal.require_acts_for(owner, WebhookEndpointNotFoundError)
        types = parse_event_types(event_types)
        self.guard.check(url)
        if self.store.count_endpoints(owner) >= ENDPOINTS_PER_CUSTOMER_MAX:
            raise WebhookEndpointsLimitError()
        secret = new_secret()
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            customer_id=owner,
            url=url,
            event_types=types,
            description=description,
            status=EndpointStatus.ACTIVE,
            created_at=self.clock.now(),
        )
        self.store.add_endpoint(endpoint, secret)
        return WebhookEndpointCreated(
            id=endpoint.id,
            customer_id=owner,
            url=url,
            event_types=types,
            description=description,
            status=endpoint.status,
            created_at=endpoint.created_at,
            secret=secret,
        )

    def list_endpoints(
        self, principal: Principal, customer_id: str | None = None
    ) -> WebhookEndpointList:
        """The caller's endpoints; readers see everyone's (or `customer_id`'s)."""
        if not principal.may_read_everything:
            customer_id = principal.subject
        return WebhookEndpointList(self.store.list_endpoints(customer_id, ENDPOINTS_LIST_MAX))

    def get_endpoint(self, principal: Principal, endpoint_id: UUID) -> WebhookEndpoint:
        endpoint = self.store.get_endpoint(endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFoundError()
        principal.require_reads(
            endpoint.customer_id or GLOBAL_CUSTOMER, WebhookEndpointNotFoundError
        )
        return endpoint

    def delete_endpoint(self, principal: Principal, endpoint_id: UUID) -> None:
        """Delete the endpoint: nothing more is sent to it (pending deliveries included)."""
        endpoint = self.store.get_endpoint(endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFoundError()
        if endpoint.customer_id is None:
            principal.require_reads(GLOBAL_CUSTOMER, WebhookEndpointNotFoundError)
            raise WebhookEndpointConfiguredError()
        principal.require_acts_for(endpoint.customer_id, WebhookEndpointNotFoundError)
        self.store.delete_endpoint(endpoint_id, self.clock.now())

    def list_deliveries(
        self,
        principal: Principal,
        *,
        endpoint_id: UUID | None = None,
        status: DeliveryStatus | None = None,
        event_type: WebhookEventType | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> WebhookDeliveryPage:
        """The delivery log newest first: the caller's, or everyone's for readers."""
        customer_id = None if principal.may_read_everything else principal.subject
        limit = max(1, min(limit, PAGE_SIZE_MAX))
        where = DeliveryFilter(customer_id, endpoint_id, status, event_type)
        before = decode_cursor(cursor) if cursor else None
        rows = self.store.list_deliveries(where, before, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor(page[-1].position, page[-1].id) if more else None
        return WebhookDeliveryPage(page, next_cursor)

    def get_delivery(self, principal: Principal, delivery_id: UUID) -> WebhookDelivery:
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None:
            raise WebhookDeliveryNotFoundError()
        principal.require_reads(
            delivery.customer_id or GLOBAL_CUSTOMER, WebhookDeliveryNotFoundError
        )
        return delivery

    def replay_delivery(self, principal: Principal, delivery_id: UUID) -> WebhookDelivery:
        """Send the delivery again, now (same `webhook-id`; retries as for a new one)."""
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None:
            raise WebhookDeliveryNotFoundError()
        principal.require_acts_for(
            delivery.customer_id or GLOBAL_CUSTOMER, WebhookDeliveryNotFoundError
        )
        endpoint = self.store.get_endpoint(delivery.endpoint_id)
        if endpoint is None or endpoint.status != EndpointStatus.ACTIVE:
            raise WebhookEndpointDisabledError()
        now = self.clock.now()
        self.store.replay(delivery_id, now, now + timedelta(seconds=self.policy.horizon_s))
        replayed = self.store.get_delivery(delivery_id)
        assert replayed is not None
        return replayed
