"""Outbound webhooks over HTTP: endpoints (secret shown once, SSRF refused, owners only),
and events of payments and charges delivered, signed, to a real local receiver, with the
delivery log and replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from application.ports.webhooks import WebhookStore
from entrypoints.container import build_sync_container
from entrypoints.settings import load_settings
from tests.integration.http.people_support import sign_up, user_id
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    running_client,
)
from tests.support.webhook_receiver import WebhookReceiver, canary, webhook_receiver

pytestmark = pytest.mark.integration

WAIT_S = 10.0


def webhook_settings() -> Any:
    return memory_settings(
        webhook_allow_networks="127.0.0.1/32",
        webhook_backoff_base_s=0.05,
        webhook_poll_interval_s=0.05,
        webhook_timeout_s=2,
        workers_poll_interval_s=0.05,
    )


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(webhook_settings(), signed_in=False) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{digest}" in headers["webhook-signature"].split(" ")


def deliveries(client: TestClient[Any], headers: dict[str, str], **params: Any) -> list[Any]:
    body = expect(client.get("/webhooks", params=params, headers=headers), 200)
    return list(body["deliveries"])


def wait_for_deliveries(
    client: TestClient[Any], headers: dict[str, str], count: int, **params: Any
) -> list[Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = deliveries(client, headers, **params)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_an_endpoint_shows_its_secret_once_and_can_be_deleted(client: TestClient[Any]) -> None:
    alice = sign_up(client, "alice@example.com")
    created = expect(
        client.post(
            "/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["charge.succeeded"]},
            headers=alice,
        ),
        201,
    )
    assert created["secret"].startswith("whsec_")
    assert created["customer_id"] == user_id(client, alice)
    assert created["event_types"] == ["charge.succeeded"]
    assert created["status"] == "active"

    shown = expect(client.get(f"/webhook-endpoints/{created['id']}", headers=alice), 200)
    assert "secret" not in shown
    assert created["secret"] not in json.dumps(
        expect(client.get("/webhook-endpoints", headers=alice), 200)
    )
    listed = expect(client.get("/webhook-endpoints", headers=alice), 200)["endpoints"]
    assert [e["id"] for e in listed] == [created["id"]]

    assert client.delete(f"/webhook-endpoints/{created['id']}", headers=alice).status_code == 204
    expect_problem(
        client.get(f"/webhook-endpoints/{created['id']}", headers=alice),
        404,
        "webhook_endpoint_not_found",
    )
    assert expect(client.get("/webhook-endpoints", headers=alice), 200)["endpoints"] == []


def test_all_event_types_by_default_and_unknown_ones_refused(client: TestClient[Any]) -> None:
    alice = sign_up(client, "alice@example.com")
    created = expect(
        client.post("/webhook-endpoints", json={"url": "http://127.0.0.1:9/"}, headers=alice), 201
    )
    assert set(created["event_types"]) == {
        "payment.status_changed",
        "payment.refunded",
        "charge.succeeded",
        "charge.failed",
    }
    refused = client.post(
        "/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/", "event_types": ["payment.exploded"]},
        headers=alice,
    )
    assert refused.status_code == 422, refused.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8080/",
        "http://2130706434/",
        "http://0x7f.2/",
        "http://017700000002/",
        "http://[::ffff:127.0.0.2]/",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "ftp://127.0.0.1/",
    ],
)
def test_a_url_to_a_special_address_is_refused_at_registration(
    client: TestClient[Any], url: str
) -> None:
    alice = sign_up(client, "alice@example.com")
    body = expect_problem(
        client.post("/webhook-endpoints", json={"url": url}, headers=alice),
        422,
        "webhook_url_refused",
    )
    assert "refused" in body["detail"]
    assert expect(client.get("/webhook-endpoints", headers=alice), 200)["endpoints"] == []


def test_another_customers_endpoint_is_not_found_and_not_listed(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    alice = sign_up(client, "alice@example.com")
    bob = sign_up(client, "bob@example.com")
    created = expect(
        client.post("/webhook-endpoints", json={"url": "http://127.0.0.1:9/"}, headers=alice), 201
    )
    path = f"/webhook-endpoints/{created['id']}"

    expect_problem(client.get(path, headers=bob), 404, "webhook_endpoint_not_found")
    expect_problem(client.delete(path, headers=bob), 404, "webhook_endpoint_not_found")
    assert expect(client.get("/webhook-endpoints", headers=bob), 200)["endpoints"] == []
    refused = client.post(
        "/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/", "customer_id": user_id(client, alice)},
        headers=bob,
    )
    expect_problem(refused, 404, "webhook_endpoint_not_found")
    assert client.get("/webhook-endpoints", headers={}).status_code == 401

    assert expect(client.get(path, headers=admin), 200)["id"] == created["id"]
    everyone = expect(client.get("/webhook-endpoints", headers=admin), 200)["endpoints"]
    assert [e["id"] for e in everyone] == [created["id"]]
    assert expect(client.get(path, headers=alice), 200)["status"] == "active"


def test_a_charge_is_delivered_signed_with_its_splits_and_metadata(
    client: TestClient[Any], receiver: WebhookReceiver
) -> None:
    admin = admin_headers(client)
    alice = sign_up(client, "alice@example.com")
    alice_id = user_id(client, alice)
    url = receiver.script("/alice", 200)
    endpoint = expect(
        client.post(
            "/webhook-endpoints",
            json={"url": url, "event_types": ["charge.succeeded", "payment.status_changed"]},
            headers=alice,
        ),
        201,
    )
    expect(
        client.post("/wallets", json={"customer_id": alice_id, "currency": "USD"}, headers=alice),
        201,
    )
    expect(
        client.post(
            f"/wallets/{alice_id}/credit", json={"amount": 5_000, "currency": "USD"}, headers=admin
        ),
        201,
    )
    charge = expect(
        client.post(
            "/charges",
            json={
                "customer_id": alice_id,
                "amount": 1_000,
                "currency": "USD",
                "recipient": "shop",
                "description": "order 42",
                "splits": [{"payee": "shop", "bps": 9_000}, {"payee": "platform", "bps": 1_000}],
            },
            headers=alice,
        ),
        201,
    )

    # CREATED, PROCESSING, SUCCESS, and the charge's own event.
    received = receiver.wait_for("/alice", 4, WAIT_S)
    bodies = sorted((json.loads(r.body) for r in received), key=lambda b: b["position"])
    types = [b["type"] for b in bodies]
    assert "charge.succeeded" in types, types
    assert types.count("payment.status_changed") >= 2, types
    for request in received:
        assert verify(endpoint["secret"], request.headers, request.body)
        assert request.headers["content-type"] == "application/json"
    succeeded = next(b for b in bodies if b["type"] == "charge.succeeded")
    assert succeeded["data"]["charge"]["id"] == charge["id"]
    assert succeeded["data"]["charge"]["status"] == "SUCCESS"
    assert succeeded["data"]["split_instructions"] == [
        {"payee": "shop", "bps": 9_000, "amount": None},
        {"payee": "platform", "bps": 1_000, "amount": None},
    ]
    assert succeeded["data"]["metadata"]["description"] == "order 42"
    assert succeeded["data"]["metadata"]["payer_id"] == alice_id
    statuses = [b["data"]["status"] for b in bodies if b["type"] == "payment.status_changed"]
    assert statuses[-1] == "SUCCESS", statuses
    assert all(b["data"]["id"] == charge["id"] for b in bodies if b["type"] != "charge.succeeded")

    log = wait_for_deliveries(client, alice, len(received), status="succeeded")
    assert len(log) == len(received)
    one = next(d for d in log if d["event_type"] == "charge.succeeded")
    assert (one["attempts"], one["response_code"], one["url"]) == (1, 200, url)
    assert one["latency_ms"] >= 0
    assert one["payload"] == succeeded
    detail = expect(client.get(f"/webhooks/{one['id']}", headers=alice), 200)
    assert [a["response_code"] for a in detail["attempt_log"]] == [200]
    assert detail["message_id"] == succeeded["id"]


def test_a_replay_sends_the_same_message_again(
    client: TestClient[Any], receiver: WebhookReceiver
) -> None:
    alice = sign_up(client, "alice@example.com")
    url = receiver.script("/replay", 200)
    endpoint = expect(
        client.post(
            "/webhook-endpoints",
            json={"url": url, "event_types": ["payment.status_changed"]},
            headers=alice,
        ),
        201,
    )
    settled = expect(
        client.post(
            "/payments",
            params={"wait": "true"},
            json={"amount": 100, "currency": "USD", "recipient": "shop", "method": "legacy"},
            headers=alice,
        ),
        201,
    )
    assert settled["status"] in ("SUCCESS", "FAILED")
    # CREATED, PROCESSING and the outcome: all sent before the replay.
    sent = receiver.wait_for("/replay", 3, WAIT_S)
    assert len(sent) == 3
    log = wait_for_deliveries(client, alice, 3, status="succeeded")
    target = log[-1]  # the oldest: CREATED

    replayed = expect(client.post(f"/webhooks/{target['id']}/replay", headers=alice), 202)
    assert replayed["id"] == target["id"]
    again = receiver.wait_for("/replay", 4, WAIT_S)
    assert len(again) == 4
    assert again[-1].headers["webhook-id"] == target["message_id"]
    assert again[-1].body == next(
        r.body for r in sent if r.headers["webhook-id"] == target["message_id"]
    )
    assert verify(endpoint["secret"], again[-1].headers, again[-1].body)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        shown = expect(client.get(f"/webhooks/{target['id']}", headers=alice), 200)
        if shown["attempts"] == 2 and shown["status"] == "succeeded":
            break
        time.sleep(0.05)
    assert shown["attempts"] == 2, shown


def test_another_customers_deliveries_are_hidden(
    client: TestClient[Any], receiver: WebhookReceiver
) -> None:
    alice = sign_up(client, "alice@example.com")
    bob = sign_up(client, "bob@example.com")
    alice_id = user_id(client, alice)
    expect(
        client.post("/webhook-endpoints", json={"url": receiver.script("/a", 200)}, headers=alice),
        201,
    )
    expect(
        client.post(
            "/payments",
            json={"amount": 100, "currency": "USD", "recipient": "shop", "method": "legacy"},
            headers=alice,
        ),
        201,
    )
    [delivery, *_] = wait_for_deliveries(client, alice, 1)
    assert delivery["customer_id"] == alice_id
    assert deliveries(client, bob) == []
    path = f"/webhooks/{delivery['id']}"
    expect_problem(client.get(path, headers=bob), 404, "webhook_delivery_not_found")
    expect_problem(client.post(f"{path}/replay", headers=bob), 404, "webhook_delivery_not_found")


def test_the_inbound_stripe_webhook_still_answers_at_its_path(client: TestClient[Any]) -> None:
    # Not configured here: the route is still the inbound one (404 `webhooks_not_configured`),
    # not a delivery lookup (which would be `webhook_delivery_not_found`).
    response = client.post("/webhooks/stripe", content=b"{}", headers={"stripe-signature": "x"})
    assert response.status_code in (400, 404), response.text
    assert response.json()["code"] in ("webhooks_not_configured", "invalid_signature")


def test_no_connection_reaches_a_canary_behind_a_refused_address(
    client: TestClient[Any],
) -> None:
    alice = sign_up(client, "alice@example.com")
    with canary("127.0.0.2") as listener:
        for url in (
            f"http://127.0.0.2:{listener.port}/",
            f"http://2130706434:{listener.port}/",
            f"http://0x7f.2:{listener.port}/",
            f"http://[::ffff:127.0.0.2]:{listener.port}/",
        ):
            expect_problem(
                client.post("/webhook-endpoints", json={"url": url}, headers=alice),
                422,
                "webhook_url_refused",
            )
        time.sleep(0.2)
        assert listener.connections == 0


def test_a_declined_charge_and_a_refund_send_their_events(
    client: TestClient[Any], receiver: WebhookReceiver
) -> None:
    admin = admin_headers(client)
    alice = sign_up(client, "alice@example.com")
    alice_id = user_id(client, alice)
    url = receiver.script("/events", 200)
    expect(
        client.post(
            "/webhook-endpoints",
            json={"url": url, "event_types": ["charge.failed", "payment.refunded"]},
            headers=alice,
        ),
        201,
    )
    card = {"number": "4000000000000002", "exp_month": 12, "exp_year": 2030}
    declined = expect(
        client.post(
            "/charges",
            json={
                "customer_id": alice_id,
                "amount": 700,
                "currency": "USD",
                "recipient": "shop",
                "card": card,
            },
            headers=alice,
        ),
        201,
    )
    assert declined["status"] == "FAILED"
    expect(
        client.post("/wallets", json={"customer_id": alice_id, "currency": "USD"}, headers=alice),
        201,
    )
    expect(
        client.post(
            f"/wallets/{alice_id}/credit", json={"amount": 1_000, "currency": "USD"}, headers=admin
        ),
        201,
    )
    paid = expect(
        client.post(
            "/payments",
            params={"wait": "true"},
            json={"amount": 300, "currency": "USD", "recipient": "shop", "method": "wallet"},
            headers=alice,
        ),
        201,
    )
    expect(client.post(f"/payments/{paid['id']}/refund", json={"amount": 100}, headers=admin), 201)

    received = receiver.wait_for("/events", 2, WAIT_S)
    bodies = {json.loads(r.body)["type"]: json.loads(r.body) for r in received}
    assert set(bodies) == {"charge.failed", "payment.refunded"}, list(bodies)
    failed = bodies["charge.failed"]["data"]
    assert (failed["charge"]["id"], failed["charge"]["status"]) == (declined["id"], "FAILED")
    assert failed["charge"]["failure_reason"] == declined["failure_reason"]
    refunded = bodies["payment.refunded"]["data"]
    assert (refunded["amount"], refunded["currency"]) == (100, "USD")
    assert refunded["payment"]["id"] == paid["id"]
    assert refunded["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert refunded["payment"]["refunded"] == 100


def test_configured_global_endpoints_receive_every_event_signed_with_the_configured_secret(
    receiver: WebhookReceiver,
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    url = receiver.script("/global", 200)
    settings = memory_settings(
        webhook_allow_networks="127.0.0.1/32",
        webhook_poll_interval_s=0.05,
        webhook_urls=url,
        webhook_secret=secret,
    )
    with running_client(settings) as admin_client:
        created = expect(
            admin_client.post(
                "/payments",
                json={"amount": 100, "currency": "USD", "recipient": "shop", "method": "legacy"},
            ),
            201,
        )
        [first, *_] = receiver.wait_for("/global", 1, WAIT_S)
        assert verify(secret, first.headers, first.body)
        assert json.loads(first.body)["data"]["id"] == created["id"]
        endpoints = expect(admin_client.get("/webhook-endpoints"), 200)["endpoints"]
        assert [(e["url"], e["customer_id"]) for e in endpoints] == [(url, None)]
        expect_problem(
            admin_client.delete(f"/webhook-endpoints/{endpoints[0]['id']}"),
            409,
            "webhook_endpoint_configured",
        )


def test_webhook_urls_without_a_secret_do_not_start() -> None:
    settings = memory_settings(webhook_urls="https://hooks.example/")
    container = build_sync_container(settings)
    try:
        with pytest.raises(ValueError, match="PAYLEDGER_WEBHOOK_SECRET"):
            container.get(WebhookStore)
    finally:
        container.close()


def test_seed_001s_webhook_url_is_a_global_endpoint() -> None:
    settings = load_settings(
        {"WEBHOOK_URL": "https://seed.example/hook", "PAYLEDGER_WEBHOOK_URLS": "https://a.example/"}
    )
    assert settings.webhooks.url_list == ["https://a.example/", "https://seed.example/hook"]
