"""Seed 004's transactions over HTTP: sign up at `/users/`, a token from `/token`, send money
with `POST /transactions/`, read the history, and "update the status": the hold or payment
behind a transaction changes; the posted transaction never does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.people_support import sign_up, user_id
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    position_of,
    running_client,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(), signed_in=False) as client:
        yield client


@pytest.fixture
def people(client: TestClient[Any]) -> tuple[dict[str, str], dict[str, str], str, str]:
    """An admin's headers, Alice's headers (1,000 USD), and Alice's and Bob's ids."""
    admin = admin_headers(client)
    alice, bob = sign_up(client, "alice@example.com"), sign_up(client, "bob@example.com")
    alice_id, bob_id = user_id(client, alice), user_id(client, bob)
    for headers, own in ((alice, alice_id), (bob, bob_id)):
        body = {"customer_id": own, "currency": "USD"}
        expect(client.post("/wallets/", json=body, headers=headers), 201)
    credit = {"amount": 1_000, "currency": "USD"}
    expect(client.post(f"/wallets/{alice_id}/credit", json=credit, headers=admin), 201)
    return admin, alice, alice_id, bob_id


def test_send_money_and_read_the_history_newest_first(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    _, alice, alice_id, bob_id = people
    body = {"to_customer_id": bob_id, "amount": 250, "currency": "USD", "description": "rent"}

    sent = client.post("/transactions/", json=body, headers=alice)

    created = expect(sent, 201)
    assert sent.headers["location"] == f"/transactions/{created['id']}"
    history = client.get(
        "/transactions/", params={"min_position": position_of(sent)}, headers=alice
    )
    page = expect(history, 200)
    assert page["customer_id"] == alice_id
    lines = [(row["entry"]["kind"], row["entry"]["amount"]) for row in page["transactions"]]
    assert lines == [("transfer_out", -250), ("credit", 1_000)]
    assert page["transactions"][0]["entry"]["balance_after"] == 750
    got = expect(client.get(f"/transactions/{created['id']}", headers=alice), 200)
    assert {p["amount"] for p in got["postings"]} == {-250, 250}


def test_the_history_pages(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    _, alice, _, bob_id = people
    for amount in (1, 2, 3):
        body = {"to_customer_id": bob_id, "amount": amount, "currency": "USD"}
        sent = client.post("/transactions", json=body, headers=alice)
    params = {"limit": 2, "min_position": position_of(sent)}

    first = expect(client.get("/transactions", params=params, headers=alice), 200)
    rest = client.get("/transactions", params={"cursor": first["next_cursor"]}, headers=alice)

    amounts = [
        r["entry"]["amount"] for r in first["transactions"] + expect(rest, 200)["transactions"]
    ]
    assert amounts == [-3, -2, -1, 1_000]


def test_a_posted_transaction_is_immutable(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    _, alice, _, bob_id = people
    body = {"to_customer_id": bob_id, "amount": 10, "currency": "USD"}
    sent = expect(client.post("/transactions", json=body, headers=alice), 201)

    for status in ("voided", "captured", "refunded"):
        response = client.put(f"/transactions/{sent['id']}", json={"status": status}, headers=alice)
        expect_problem(response, 409, "transaction_immutable")


def test_a_hold_behind_a_transaction_is_captured_or_voided(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    _, alice, alice_id, _ = people
    hold_body = {"amount": 300, "currency": "USD"}
    first = expect(client.post(f"/wallets/{alice_id}/holds", json=hold_body, headers=alice), 201)
    second = expect(client.post(f"/wallets/{alice_id}/holds", json=hold_body, headers=alice), 201)

    captured = client.put(
        f"/transactions/{first['id']}", json={"status": "captured", "amount": 100}, headers=alice
    )
    voided = client.put(f"/transactions/{second['id']}", json={"status": "voided"}, headers=alice)

    assert expect(captured, 200)["status"] == "POSTED"
    assert captured.json()["transaction_id"] is not None
    assert expect(voided, 200) == {
        "id": second["id"],
        "kind": "hold",
        "status": "VOIDED",
        "transaction_id": None,
    }
    wallet = expect(
        client.get(f"/wallets/{alice_id}", params={"currency": "USD"}, headers=alice), 200
    )
    assert (wallet["balance"], wallet["held"]) == (900, 0)


def test_a_payment_behind_a_transaction_is_refunded_by_an_admin_only(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    admin, alice, _, _ = people
    body = {"amount": 400, "currency": "USD", "recipient": "shop", "method": "wallet"}
    paid = expect(client.post("/payments", json=body, params={"wait": "true"}, headers=alice), 201)
    assert paid["status"] == "SUCCESS", paid
    target = paid["transaction_id"]  # the journal transaction that settled the payment
    assert target is not None, paid

    refused = client.put(f"/transactions/{target}", json={"status": "refunded"}, headers=alice)
    expect_problem(refused, 403, "forbidden")
    refunded = client.put(f"/transactions/{target}", json={"status": "refunded"}, headers=admin)

    assert expect(refunded, 200)["status"] == "REFUNDED"
    assert expect(client.get(f"/payments/{paid['id']}", headers=alice), 200)["refunded"] == 400


def test_another_customers_transaction_is_not_found(
    client: TestClient[Any], people: tuple[dict[str, str], dict[str, str], str, str]
) -> None:
    _, alice, _, bob_id = people
    carol = sign_up(client, "carol@example.com")
    body = {"to_customer_id": bob_id, "amount": 10, "currency": "USD"}
    sent = expect(client.post("/transactions", json=body, headers=alice), 201)

    expect_problem(
        client.get(f"/transactions/{sent['id']}", headers=carol), 404, "transaction_not_found"
    )
    put = client.put(f"/transactions/{sent['id']}", json={"status": "voided"}, headers=carol)
    expect_problem(put, 404, "transaction_not_found")
    others = client.get("/transactions", params={"customer_id": bob_id}, headers=carol)
    expect_problem(others, 404, "wallet_not_found")
