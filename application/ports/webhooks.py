"""Ports of outbound webhooks: where endpoints and deliveries are kept, how a request is
sent, and which URLs may be called at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from application.results_dashboard import WebhookHealth
from application.webhook_results import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)


@dataclass(frozen=True)
class OutboundMessage:
    """One event to send to the endpoints of `customer_ids` (and every global one) that
    subscribe to `event_type`; `payload` is the JSON body, the same for every endpoint."""

    message_id: str
    event_type: WebhookEventType
    payload: bytes
    customer_ids: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class ClaimedDelivery:
    """A due delivery this sender holds until `finish_attempt` (or its lease runs out)."""

    delivery_id: UUID
    message_id: str
    endpoint_id: UUID
    url: str
    secret: str
    endpoint_active: bool
    payload: bytes
    attempts: int
    expires_at: datetime
    claim_token: str


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP attempt got: a status code (None: no answer), the time it took, and
    why there was no (good) answer."""

    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DeliveryFilter:
    """Which deliveries a list shows (None: any)."""

    customer_id: str | None = None
    endpoint_id: UUID | None = None
    status: DeliveryStatus | None = None
    event_type: WebhookEventType | None = None


class WebhookStore(Protocol):
    """Endpoints, deliveries and their attempts; the dispatcher's position in the log."""

    def add_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None:
        """Store a new endpoint with its signing secret."""
        ...

    def count_endpoints(self, customer_id: str) -> int:
        """How many endpoints (not deleted) `customer_id` has."""
        ...

    def get_endpoint(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint (None when there is none or it was deleted)."""
        ...

    def webhook_health(self) -> WebhookHealth:
        """Active endpoints, deliveries by outcome and the newest error (the dashboard's
        panel: this makes the store a `WebhookHealthSource`)."""
        ...

    def list_endpoints(self, customer_id: str | None, limit: int) -> list[WebhookEndpoint]:
        """Endpoints not deleted (of `customer_id`, or all), oldest first."""
        ...

    def delete_endpoint(self, endpoint_id: UUID, now: datetime) -> bool:
        """Mark the endpoint deleted (its pending deliveries are dropped when due)."""
        ...

    def sync_global_endpoints(
        self,
        urls: Sequence[str],
        secret: str,
        event_types: Sequence[WebhookEventType],
        now: datetime,
    ) -> None:
        """Make the global endpoints exactly `urls` (others from configuration: deleted)."""
        ...

    def record_messages(
        self,
        messages: Sequence[OutboundMessage],
        tracking: Tracking,
        now: datetime,
        horizon_s: float,
    ) -> int:
        """Create a pending delivery of each message to each matching active endpoint,
        with `tracking`, in one transaction; returns how many."""
        ...

    def insert_tracking(self, tracking: Tracking) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def claim_due(
        self, now: datetime, limit: int, lease_s: float, skip_endpoints: frozenset[UUID]
    ) -> list[ClaimedDelivery]:
        """Atomically claim up to `limit` pending deliveries due at `now`, not claimed by
        anyone (or whose claim ran out), of endpoints not in `skip_endpoints`."""
        ...

    def finish_attempt(
        self,
        claim: ClaimedDelivery,
        outcome: AttemptOutcome,
        now: datetime,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
        disable_reason: str | None,
    ) -> bool:
        """Record the attempt and the delivery's new state (and disable its endpoint when
        `disable_reason`); False when the claim was lost (nothing recorded)."""
        ...

    def abandon(self, claim: ClaimedDelivery, reason: str, now: datetime) -> None:
        """Fail a claimed delivery without an attempt (its endpoint is gone)."""
        ...

    def get_delivery(self, delivery_id: UUID) -> WebhookDelivery | None: ...

    def list_deliveries(
        self, where: DeliveryFilter, before: tuple[int, UUID] | None, limit: int
    ) -> list[WebhookDelivery]:
        """Deliveries newest first (by log position, then id), after the cursor `before`."""
        ...

    def replay(self, delivery_id: UUID, now: datetime, expires_at: datetime) -> bool:
        """Make the delivery pending and due at `now` again (attempts are kept)."""
        ...


class WebhookTransport(Protocol):
    """Sends one webhook request."""

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> AttemptOutcome:
        """POST `body`; never follows a redirect, never raises for the receiver's faults."""
        ...


class UrlGuard(Protocol):
    """Which URLs webhooks may call (the SSRF guard)."""

    def check(self, url: str) -> None:
        """Raise `WebhookUrlRefusedError` unless `url` is http(s) to allowed addresses."""
        ...
