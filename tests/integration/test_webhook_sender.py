"""The webhook sender against a real local HTTP receiver, with a hand-moved clock: signed
requests a spec-written verifier accepts, retries on 500 with backoff, none after a 2xx, no
redirect followed, 410 disables the endpoint, retries end at the horizon, a slow receiver
does not hold up another, and the SSRF guard holds again at send time (a canary listener
behind refused addresses never sees a connection)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from eventsourcing.persistence import Tracking

from adapters.views.factory import open_view_database, open_webhook_store
from adapters.views.webhooks_store import SqlWebhookStore, delivery_id_of
from adapters.webhooks.address_guard import AddressGuard
from adapters.webhooks.http_transport import HttpWebhookTransport
from application.ports.webhooks import OutboundMessage
from application.webhook_results import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from application.webhook_sender import WebhookSender
from application.webhook_signing import new_secret
from application.webhooks import WebhookPolicy
from tests.support.webhook_receiver import WebhookReceiver, canary, webhook_receiver
from tests.unit.application.fakes import FakeClock

pytestmark = pytest.mark.integration

APP = "payledger"
CHANGED = WebhookEventType.PAYMENT_STATUS_CHANGED
POLICY = WebhookPolicy(
    horizon_s=3600.0,
    timeout_s=2.0,
    concurrency=4,
    per_endpoint_max=2,
    backoff_base_s=10.0,
    backoff_max_s=600.0,
    poll_interval_s=0.02,
)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{digest}" in headers["webhook-signature"].split(" ")


@dataclass
class Rig:
    store: SqlWebhookStore
    clock: FakeClock
    sender: WebhookSender
    receiver: WebhookReceiver
    position: int = 0

    def endpoint(self, url: str, customer: str = "alice") -> tuple[uuid.UUID, str]:
        secret = new_secret()
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            customer_id=customer,
            url=url,
            event_types=list(WebhookEventType),
            description="",
            status=EndpointStatus.ACTIVE,
            created_at=self.clock.now(),
        )
        self.store.add_endpoint(endpoint, secret)
        return endpoint.id, secret

    def event(self, customer: str = "alice") -> str:
        """One event for `customer`'s endpoints, as the dispatcher records it."""
        self.position += 1
        message_id = f"msg_{uuid.uuid4().hex}"
        body = f'{{"id":"{message_id}","type":"payment.status_changed","data":{{}}}}'.encode()
        message = OutboundMessage(message_id, CHANGED, body, (customer,), self.position)
        tracking = Tracking(APP, self.position)
        self.store.record_messages([message], tracking, self.clock.now(), POLICY.horizon_s)
        return message_id

    def delivery(self, endpoint_id: uuid.UUID, message_id: str) -> WebhookDelivery:
        found = self.store.get_delivery(delivery_id_of(endpoint_id, message_id))
        assert found is not None
        return found


@pytest.fixture
def rig() -> Iterator[Rig]:
    store = open_webhook_store(open_view_database("memory"), application_name=APP)
    clock = FakeClock()
    transport = HttpWebhookTransport(AddressGuard(["127.0.0.1/32"]))
    sender = WebhookSender(store, transport, clock, POLICY, rng=random.Random(7))
    with webhook_receiver() as receiver:
        yield Rig(store, clock, sender, receiver)
    sender.stop()
    store.close()


def test_a_2xx_ends_the_delivery_and_the_request_verifies(rig: Rig) -> None:
    endpoint_id, secret = rig.endpoint(rig.receiver.script("/ok", 204))
    message_id = rig.event()

    assert rig.sender.run_once() == 1
    [request] = rig.receiver.at("/ok")
    assert verify(secret, request.headers, request.body)
    assert request.headers["webhook-id"] == message_id
    assert int(request.headers["webhook-timestamp"]) == int(rig.clock.now().timestamp())
    delivery = rig.delivery(endpoint_id, message_id)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        204,
    )
    assert delivery.delivered_at == rig.clock.now()

    rig.clock.advance(3 * 24 * 3600)
    assert rig.sender.run_once() == 0
    assert len(rig.receiver.at("/ok")) == 1


def test_a_500_is_retried_with_backoff_until_a_2xx(rig: Rig) -> None:
    endpoint_id, secret = rig.endpoint(rig.receiver.script("/flaky", 500, 500, 200))
    message_id = rig.event()

    assert rig.sender.run_once() == 1
    first = rig.delivery(endpoint_id, message_id)
    assert (first.status, first.attempts, first.response_code) == (DeliveryStatus.PENDING, 1, 500)
    assert first.next_attempt_at is not None
    wait_s = (first.next_attempt_at - rig.clock.now()).total_seconds()
    assert POLICY.backoff_base_s / 2 <= wait_s <= POLICY.backoff_base_s  # jittered first wait
    assert rig.sender.run_once() == 0  # not due yet

    rig.clock.advance(wait_s)
    assert rig.sender.run_once() == 1
    second = rig.delivery(endpoint_id, message_id)
    assert second.next_attempt_at is not None
    second_wait_s = (second.next_attempt_at - rig.clock.now()).total_seconds()
    assert POLICY.backoff_base_s <= second_wait_s <= 2 * POLICY.backoff_base_s  # doubled

    rig.clock.advance(second_wait_s)
    assert rig.sender.run_once() == 1
    done = rig.delivery(endpoint_id, message_id)
    assert (done.status, done.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert [a.response_code for a in done.attempt_log] == [500, 500, 200]
    requests = rig.receiver.at("/flaky")
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {message_id}
    assert all(verify(secret, r.headers, r.body) for r in requests)


def test_a_redirect_is_not_followed(rig: Rig) -> None:
    target = rig.receiver.script("/target", 200)
    endpoint_id, _ = rig.endpoint(rig.receiver.script("/moved", 302, location=target))
    message_id = rig.event()

    rig.sender.run_once()
    assert len(rig.receiver.at("/moved")) == 1
    assert rig.receiver.at("/target") == []
    delivery = rig.delivery(endpoint_id, message_id)
    assert (delivery.status, delivery.response_code) == (DeliveryStatus.PENDING, 302)


def test_a_410_disables_the_endpoint_and_nothing_more_is_sent_to_it(rig: Rig) -> None:
    endpoint_id, _ = rig.endpoint(rig.receiver.script("/gone", 410))
    first, second = rig.event(), rig.event()

    assert rig.sender.run_once() == 1  # one attempt per endpoint per round
    endpoint = rig.store.get_endpoint(endpoint_id)
    assert endpoint is not None
    assert endpoint.status == EndpointStatus.DISABLED
    assert endpoint.disabled_reason is not None
    assert "410" in endpoint.disabled_reason
    rig.sender.run_once()
    rig.clock.advance(3600)
    rig.sender.run_once()

    assert len(rig.receiver.at("/gone")) == 1
    statuses = {rig.delivery(endpoint_id, m).status for m in (first, second)}
    assert statuses == {DeliveryStatus.FAILED}
    # A new event finds no active endpoint: no delivery is even made.
    rig.event()
    assert rig.sender.run_once() == 0


def test_retries_end_at_the_horizon(rig: Rig) -> None:
    endpoint_id, _ = rig.endpoint(rig.receiver.script("/down", 503))
    message_id = rig.event()
    start = rig.clock.now()

    for _ in range(100):
        rig.sender.run_once()
        delivery = rig.delivery(endpoint_id, message_id)
        if delivery.status != DeliveryStatus.PENDING:
            break
        assert delivery.next_attempt_at is not None
        rig.clock.set(delivery.next_attempt_at)

    assert delivery.status == DeliveryStatus.FAILED
    assert 5 <= delivery.attempts < 100
    last = delivery.attempt_log[-1].attempted_at
    assert last <= start + timedelta(seconds=POLICY.horizon_s)
    assert len(rig.receiver.at("/down")) == delivery.attempts


def test_a_slow_receiver_does_not_delay_another(rig: Rig) -> None:
    rig.endpoint(rig.receiver.script("/slow", 200, delay_s=1.5), customer="slowco")
    fast_id, _ = rig.endpoint(rig.receiver.script("/fast", 200), customer="fastco")
    for _ in range(6):
        rig.event("slowco")
    started = time.monotonic()
    rig.sender.start()
    rig.receiver.wait_for("/slow", 1, 5)
    message_id = rig.event("fastco")

    [fast] = rig.receiver.wait_for("/fast", 1, 5)
    assert fast.at - started < 1.0, fast.at - started  # not behind a 1.5 s answer
    assert len(rig.receiver.at("/slow")) <= POLICY.per_endpoint_max  # the slow one is capped
    rig.sender.stop()
    deadline = time.monotonic() + 5
    while rig.delivery(fast_id, message_id).status != DeliveryStatus.SUCCEEDED:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_refused_addresses_are_refused_again_at_send_time(rig: Rig) -> None:
    with canary("127.0.0.2") as listener:
        port = listener.port
        urls = [
            f"http://127.0.0.2:{port}/",
            f"http://2130706434:{port}/",
            f"http://0x7f.2:{port}/",
            f"http://017700000002:{port}/",
            f"http://[::ffff:127.0.0.2]:{port}/",
            f"http://[::1]:{port}/",
        ]
        # Stored as configuration would (no registration check): the sender must refuse.
        endpoints = [rig.endpoint(url, customer=f"c{i}")[0] for i, url in enumerate(urls)]
        messages = [rig.event(f"c{i}") for i in range(len(urls))]

        sent = 0
        while (round_sent := rig.sender.run_once()) > 0:  # `concurrency` per round
            sent += round_sent
        assert sent == len(urls)
        time.sleep(0.2)
        assert listener.connections == 0
    for endpoint_id, message_id in zip(endpoints, messages, strict=True):
        delivery = rig.delivery(endpoint_id, message_id)
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.response_code is None
        assert delivery.last_error is not None
        assert delivery.last_error.startswith("refused:"), delivery.last_error
