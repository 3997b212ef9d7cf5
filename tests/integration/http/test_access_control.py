"""Access control over HTTP: roles on admin routes, and a sweep over every route that names
an object: another customer's object is not found (404), never shown or changed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.people_support import sign_up, user_id
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    running_client,
)

pytestmark = pytest.mark.integration

# Routes where a customer is refused for their role whatever the object (403 leaks nothing:
# the answer is the same for every id), and public reads.
ROLE_REFUSED = {
    "CreditWallet",
    "UpdateSchool",
    "DeleteSchool",
    "UpdateTrip",
    "DeleteTrip",
    "GetAuditAccount",
    "GetAuditPayment",
}
PUBLIC = {"GetSchool", "GetTrip"}
# A valid body for each write that names an object (so the body is not what is refused).
BODIES: dict[str, Any] = {
    "CreditWallet": {"amount": 1, "currency": "USD"},
    "DebitWallet": {"amount": 1, "currency": "USD"},
    "PlaceHold": {"amount": 1, "currency": "USD"},
    "PostHold": {},
    "VoidHold": {},
    "RefundPayment": {"amount": 1},
    "UpdateTransactionStatus": {"status": "voided"},
    "UpdateUser": {"full_name": "Mallory"},
    "UpdateRegistration": {"student_name": "Mallory"},
    "UpdateSchool": {"name": "Mallory's"},
    "UpdateTrip": {"title": "Mallory's"},
    "CancelRegistration": None,
}


@dataclass
class Owned:
    """One customer's objects, by path parameter name."""

    ids: dict[str, str]


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    # Webhooks may call 127.0.0.1 (alice's endpoint: a closed port, so delivery attempts fail
    # fast and nothing leaves the machine).
    settings = memory_settings(webhook_allow_networks="127.0.0.1/32", webhook_timeout_s=1)
    with running_client(settings, signed_in=False) as client:
        yield client


def alices_objects(client: TestClient[Any], admin: dict[str, str], alice: dict[str, str]) -> Owned:
    """Alice's wallet, hold, payment, charge, transaction, registration, installment plan,
    webhook endpoint and a delivery to it; a school and a trip (public objects)."""
    alice_id = user_id(client, alice)
    endpoint = expect(
        client.post("/webhook-endpoints", json={"url": "http://127.0.0.1:9/"}, headers=alice),
        201,
    )
    wallet = expect(
        client.post("/wallets", json={"customer_id": alice_id, "currency": "USD"}, headers=alice),
        201,
    )
    expect(
        client.post(
            f"/wallets/{alice_id}/credit", json={"amount": 5_000, "currency": "USD"}, headers=admin
        ),
        201,
    )
    hold = expect(
        client.post(
            f"/wallets/{alice_id}/holds", json={"amount": 100, "currency": "USD"}, headers=alice
        ),
        201,
    )
    payment = expect(
        client.post(
            "/payments",
            json={"amount": 100, "currency": "USD", "recipient": "shop", "method": "wallet"},
            headers=alice,
        ),
        201,
    )
    charge = expect(
        client.post(
            "/charges",
            json={"customer_id": alice_id, "amount": 100, "currency": "USD", "recipient": "shop"},
            headers=alice,
        ),
        201,
    )
    debit = expect(
        client.post(
            f"/wallets/{alice_id}/debit", json={"amount": 10, "currency": "USD"}, headers=alice
        ),
        201,
    )
    school = expect(client.post("/schools", json={"name": "Schooly"}, headers=admin), 201)
    trip = expect(
        client.post(
            "/trips",
            json={
                "school_id": school["id"],
                "title": "Zoo",
                "location": "Town",
                "date": "2031-01-01T09:00:00Z",
                "price": 100,
                "capacity": 5,
            },
            headers=admin,
        ),
        201,
    )
    registration = expect(
        client.post(
            "/registrations", json={"trip_id": trip["id"], "student_name": "Ann"}, headers=alice
        ),
        201,
    )
    order = expect(
        client.post("/installments/orders", json={"amount": 300, "count": 3}, headers=alice),
        201,
    )
    delivery = first_delivery(client, alice)
    return Owned(
        {
            "order_id": order["id"],
            "endpoint_id": endpoint["id"],
            "delivery_id": delivery["id"],
            "customer_id": alice_id,
            "account_id": wallet["id"],
            "hold_id": hold["id"],
            "payment_id": payment["id"],
            "charge_id": charge["id"],
            "transaction_id": debit["id"],
            "user_id": alice_id,
            "registration_id": registration["id"],
            "school_id": school["id"],
            "trip_id": trip["id"],
        }
    )


def first_delivery(client: TestClient[Any], headers: dict[str, str]) -> Any:
    """One of the caller's webhook deliveries, once the dispatcher has made it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = expect(client.get("/webhooks", headers=headers), 200)["deliveries"]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no webhook delivery was made")


def operations_with_ids(client: TestClient[Any]) -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every documented operation whose path names an id."""
    spec = client.get("/openapi.json").json()
    return [
        (method, path, operation["operationId"])
        for path, item in spec["paths"].items()
        if "{" in path
        for method, operation in item.items()
    ]


def test_every_route_with_an_id_hides_another_customers_object(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    alice = sign_up(client, "alice@example.com")
    bob = sign_up(client, "bob@example.com")
    owned = alices_objects(client, admin, alice)
    before = state_as(client, admin)
    swept = []

    for method, template, operation_id in operations_with_ids(client):
        path = re.sub(r"\{(\w+)\}", lambda m: owned.ids[m.group(1)], template)
        body = BODIES.get(operation_id, {}) if method in ("post", "put", "patch") else None
        response = client.request(method.upper(), path, json=body, headers=bob)
        if operation_id in PUBLIC:
            assert response.status_code == 200, (operation_id, response.text)
        elif operation_id in ROLE_REFUSED:
            expect_problem(response, 403, "forbidden")
        else:
            assert response.status_code == 404, (operation_id, response.status_code, response.text)
            assert alice_id_absent(response.text, owned), (operation_id, response.text)
        swept.append(operation_id)

    assert len(swept) >= 25, swept
    assert state_as(client, admin) == before


def state_as(client: TestClient[Any], headers: dict[str, str]) -> Any:
    """`ledger_state`, read as the caller `headers` name."""
    client.headers.update(headers)
    try:
        return ledger_state(client)
    finally:
        del client.headers["Authorization"]


def alice_id_absent(text: str, owned: Owned) -> bool:
    """A refusal names nothing of Alice's beyond what the caller sent."""
    return "alice@example.com" not in text


def test_a_customer_on_an_admin_route_is_forbidden(client: TestClient[Any]) -> None:
    admin_headers(client)
    customer = sign_up(client, "pat@example.com")

    for method, path in [
        ("GET", "/users"),
        ("GET", "/summary"),
        ("GET", "/balances"),
        ("GET", "/registrations"),
        ("GET", "/audit/events"),
        ("GET", "/audit/verify"),
    ]:
        expect_problem(client.request(method, path, headers=customer), 403, "forbidden")
    school = client.post("/schools", json={"name": "Mine"}, headers=customer)
    expect_problem(school, 403, "forbidden")


def test_a_customers_lists_hold_their_own_objects_only(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    alice = sign_up(client, "alice@example.com")
    bob = sign_up(client, "bob@example.com")
    alices_objects(client, admin, alice)

    assert expect(client.get("/payments", headers=bob), 200)["payments"] == []
    assert expect(client.get("/charges", headers=bob), 200)["payments"] == []
    assert expect(client.get("/transactions", headers=bob), 200)["transactions"] == []
    assert expect(client.get("/registrations/me", headers=bob), 200)["data"] == []
    assert len(expect(client.get("/payments", headers=alice), 200)["payments"]) == 2


def test_writes_are_rate_limited_per_customer_not_for_admins() -> None:
    with running_client(memory_settings(writes_per_minute=3), signed_in=False) as client:
        admin = admin_headers(client)
        customer = sign_up(client, "pat@example.com")
        own = user_id(client, customer)
        answers = [
            client.post("/wallets", json={"customer_id": own, "currency": code}, headers=customer)
            for code in ("USD", "EUR", "GBP", "JPY")
        ]

        assert [a.status_code for a in answers[:3]] == [201, 201, 201]
        expect_problem(answers[3], 429, "rate_limited")
        assert int(answers[3].headers["retry-after"]) >= 1
        for _ in range(5):
            expect(
                client.post(
                    f"/wallets/{own}/credit", json={"amount": 1, "currency": "USD"}, headers=admin
                ),
                201,
            )
