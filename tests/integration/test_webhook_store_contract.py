"""One contract for the webhook store on every backend (SQLite in memory and in a file,
PostgreSQL): deliveries made exactly once per event and endpoint, to the endpoints that
subscribe; claims that two replicas never share; the log's filters, pages and replays."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.views.factory import open_view_database, open_webhook_store
from adapters.views.webhooks_store import SqlWebhookStore, delivery_id_of
from application.ports.webhooks import AttemptOutcome, DeliveryFilter, OutboundMessage
from application.results_dashboard import WebhookHealth
from application.webhook_dispatcher import start_at_log_end
from application.webhook_results import (
    DeliveryStatus,
    EndpointStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from tests.support.services import postgres_schema
from tests.support.views import postgres_connection

pytestmark = pytest.mark.integration

APP = "payledger"
T0 = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
HORIZON_S = 3600.0
CHANGED = WebhookEventType.PAYMENT_STATUS_CHANGED
CHARGE_OK = WebhookEventType.CHARGE_SUCCEEDED

Opener = Callable[[], SqlWebhookStore]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one database (a second one is a replica; memory has only one)."""
    opened: list[SqlWebhookStore] = []
    shared: list[SqlWebhookStore] = []

    def track(store: SqlWebhookStore) -> SqlWebhookStore:
        opened.append(store)
        return store

    if request.param == "memory":

        def open_memory() -> SqlWebhookStore:
            if not shared:
                database = open_view_database("memory")
                shared.append(track(open_webhook_store(database, application_name=APP)))
            return shared[0]

        yield open_memory
    elif request.param == "sqlite":
        path = tmp_path / "views.db"
        yield lambda: track(
            open_webhook_store(open_view_database("sqlite", sqlite_path=path), application_name=APP)
        )
    else:
        with postgres_schema() as schema:
            yield lambda: track(
                open_webhook_store(
                    open_view_database("postgres", postgres=postgres_connection(schema)),
                    application_name=APP,
                )
            )
            for store in opened:
                store.close()
            opened.clear()
    for store in opened:
        store.close()


def add_endpoint(
    store: SqlWebhookStore, customer: str | None, types: list[WebhookEventType] | None = None
) -> uuid.UUID:
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        customer_id=customer,
        url=f"https://{customer or 'global'}.example/hook",
        event_types=types or list(WebhookEventType),
        description="",
        status=EndpointStatus.ACTIVE,
        created_at=T0,
    )
    store.add_endpoint(endpoint, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    return endpoint.id


def message(
    position: int, customer: str, event_type: WebhookEventType = CHANGED
) -> OutboundMessage:
    return OutboundMessage(
        f"msg_{position}_{event_type}", event_type, b'{"n":1}', (customer,), position
    )


def test_deliveries_go_to_subscribed_endpoints_exactly_once(opener: Opener) -> None:
    store = opener()
    alice = add_endpoint(store, "alice")
    alice_charges = add_endpoint(store, "alice", [CHARGE_OK])
    bob = add_endpoint(store, "bob")
    store.sync_global_endpoints(["https://all.example/"], "whsec_x", list(WebhookEventType), T0)

    made = store.record_messages([message(1, "alice")], Tracking(APP, 1), T0, HORIZON_S)
    assert made == 2  # alice's all-events endpoint and the global one
    with pytest.raises(IntegrityError):
        store.record_messages([message(1, "alice")], Tracking(APP, 1), T0, HORIZON_S)

    assert store.max_tracking_id(APP) == 1
    log = store.list_deliveries(DeliveryFilter(), None, 100)
    assert len(log) == 2
    assert {d.endpoint_id for d in log} - {alice} != set()  # the global one
    assert alice_charges not in {d.endpoint_id for d in log}
    assert bob not in {d.endpoint_id for d in log}
    assert [d.endpoint_id for d in store.list_deliveries(DeliveryFilter("alice"), None, 100)] == [
        alice
    ]
    assert store.list_deliveries(DeliveryFilter("bob"), None, 100) == []
    [mine] = store.list_deliveries(DeliveryFilter("alice"), None, 100)
    assert (mine.status, mine.attempts, mine.position) == (DeliveryStatus.PENDING, 0, 1)
    assert mine.next_attempt_at == T0
    assert bytes(mine.payload) == b'{"n":1}'


def test_two_replicas_never_claim_the_same_attempt(opener: Opener) -> None:
    first, second = opener(), opener()
    endpoints = [add_endpoint(first, f"c{i}") for i in range(10)]
    messages = [message(n + 1, f"c{n % 10}") for n in range(40)]
    first.record_messages(messages, Tracking(APP, 40), T0, HORIZON_S)
    claims: list[list[uuid.UUID]] = [[], []]
    barrier = threading.Barrier(2)

    def claim(store: SqlWebhookStore, into: list[uuid.UUID]) -> None:
        barrier.wait()
        for _ in range(20):
            into.extend(c.delivery_id for c in store.claim_due(T0, 3, 60, frozenset()))

    threads = [
        threading.Thread(target=claim, args=(store, into))
        for store, into in zip((first, second), claims, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    everything = claims[0] + claims[1]
    assert len(everything) == len(set(everything)) == 40
    assert set(claims[0]).isdisjoint(claims[1])
    assert len(endpoints) == 10


def test_a_claim_expires_and_a_lost_claim_records_nothing(opener: Opener) -> None:
    store = opener()
    endpoint = add_endpoint(store, "alice")
    store.record_messages([message(1, "alice")], Tracking(APP, 1), T0, HORIZON_S)
    [claim] = store.claim_due(T0, 5, 60, frozenset())
    assert store.claim_due(T0, 5, 60, frozenset()) == []  # held
    assert store.claim_due(T0, 5, 60, frozenset({endpoint})) == []
    later = T0 + timedelta(seconds=61)
    [again] = store.claim_due(later, 5, 60, frozenset())  # the lease ran out
    assert again.delivery_id == claim.delivery_id

    ok = AttemptOutcome(200, 12)
    assert not store.finish_attempt(claim, ok, later, DeliveryStatus.SUCCEEDED, None, None)
    assert store.finish_attempt(again, ok, later, DeliveryStatus.SUCCEEDED, None, None)
    delivery = store.get_delivery(delivery_id_of(endpoint, message(1, "alice").message_id))
    assert delivery is not None
    assert (delivery.status, delivery.attempts, delivery.latency_ms) == (
        DeliveryStatus.SUCCEEDED,
        1,
        12,
    )
    assert [a.response_code for a in delivery.attempt_log] == [200]
    assert store.claim_due(later + timedelta(days=9), 5, 60, frozenset()) == []

    assert store.replay(delivery.id, later, later + timedelta(hours=1))
    [replayed] = store.claim_due(later, 5, 60, frozenset())
    assert (replayed.delivery_id, replayed.attempts) == (delivery.id, 1)


def test_the_log_pages_newest_first(opener: Opener) -> None:
    store = opener()
    add_endpoint(store, "alice")
    add_endpoint(store, "alice", [CHANGED])
    for position in range(1, 6):
        store.record_messages([message(position, "alice")], Tracking(APP, position), T0, HORIZON_S)
    seen = []
    before = None
    for _ in range(10):
        page = store.list_deliveries(DeliveryFilter("alice"), before, 3)
        if not page:
            break
        seen.extend(page)
        before = (page[-1].position, page[-1].id)
    assert len(seen) == 10
    assert len({d.id for d in seen}) == 10
    assert [d.position for d in seen] == sorted((d.position for d in seen), reverse=True)


def test_a_disabled_or_deleted_endpoint_gets_no_new_deliveries(opener: Opener) -> None:
    store = opener()
    gone = add_endpoint(store, "alice")
    deleted = add_endpoint(store, "alice")
    assert store.disable_endpoint(gone, T0, "410")
    assert store.delete_endpoint(deleted, T0)
    assert store.get_endpoint(deleted) is None
    assert store.count_endpoints("alice") == 1
    assert store.record_messages([message(1, "alice")], Tracking(APP, 1), T0, HORIZON_S) == 0


def test_a_new_dispatcher_starts_at_the_end_of_the_log_once(opener: Opener) -> None:
    store = opener()
    start_at_log_end(store, APP, None)  # an empty log: from the start
    assert store.max_tracking_id(APP) is None
    start_at_log_end(store, APP, 5)
    start_at_log_end(store, APP, 9)  # it has run: its position stays
    assert store.max_tracking_id(APP) == 5
    assert store.record_messages([message(6, "alice")], Tracking(APP, 6), T0, HORIZON_S) == 0
    assert store.max_tracking_id(APP) == 6


def test_health_counts_active_endpoints_and_deliveries_by_outcome(opener: Opener) -> None:
    store = opener()
    assert store.webhook_health() == WebhookHealth(0, 0, 0, 0, None)
    for customer in ("alice", "carol", "dave"):
        add_endpoint(store, customer)
    gone = add_endpoint(store, "bob")
    store.record_messages(
        [message(1, "alice"), message(2, "carol"), message(3, "dave")],
        Tracking(APP, 3),
        T0,
        HORIZON_S,
    )
    first, second, _ = store.claim_due(T0, 3, 60, frozenset())
    later = T0 + timedelta(seconds=1)
    assert store.finish_attempt(
        first, AttemptOutcome(200, 12), later, DeliveryStatus.SUCCEEDED, None, None
    )
    refused = AttemptOutcome(500, 30, "HTTP 500 from the receiver")
    assert store.finish_attempt(second, refused, later, DeliveryStatus.FAILED, None, None)
    assert store.delete_endpoint(gone, later)

    health = store.webhook_health()
    assert (health.endpoints, health.delivered, health.pending, health.failed) == (3, 1, 1, 1)
    assert health.last_error is not None
    assert "500" in health.last_error
