"""Seed 000 over HTTP: a parent signs up, books a trip, pays with seed 000's own payment body,
sees the seat confirmed, and cancels for a refund; the admin runs the catalog."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.people_support import sign_up, user_id
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    running_client,
)

pytestmark = pytest.mark.integration

PRICE = 25_000
SEED_000_CARD = {"card_number": "4242424242424242", "expiry_date": "12/30", "cvv": "123"}
SETTLE_TIMEOUT_S = 10.0


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(), signed_in=False) as client:
        yield client


def make_trip(client: TestClient[Any], admin: dict[str, str], capacity: int = 2) -> str:
    school = expect(client.post("/schools", json={"name": "Schooly"}, headers=admin), 201)
    starts = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {
        "school_id": school["id"],
        "title": "Museum",
        "location": "London",
        "date": starts,
        "price": PRICE,
        "capacity": capacity,
    }
    return str(expect(client.post("/trips", json=body, headers=admin), 201)["id"])


def registration_once(
    client: TestClient[Any], headers: dict[str, str], registration_id: str, status: str
) -> Any:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found = expect(client.get(f"/registrations/{registration_id}", headers=headers), 200)
        if found["status"] == status or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_a_parent_books_pays_with_seed_000s_body_and_cancels_for_a_refund(
    client: TestClient[Any],
) -> None:
    admin = admin_headers(client)
    trip_id = make_trip(client, admin)
    parent = sign_up(client, "parent@example.com")

    booked = expect(
        client.post(
            "/registrations/", json={"trip_id": trip_id, "student_name": "Ann"}, headers=parent
        ),
        201,
    )
    assert (booked["status"], booked["price"]) == ("PENDING", PRICE)
    assert expect(client.get(f"/trips/{trip_id}"), 200)["seats_left"] == 1

    body = {"registration_id": booked["id"], **SEED_000_CARD}
    paid = expect(client.post("/payments", json=body, headers=parent), 201)
    assert (paid["amount"], paid["method"]) == (PRICE, "card")
    assert paid["payer_id"] == user_id(client, parent)

    confirmed = registration_once(client, parent, booked["id"], "CONFIRMED")
    assert confirmed["status"] == "CONFIRMED", confirmed
    mine = expect(client.get("/registrations/me", headers=parent), 200)["data"]
    assert [r["id"] for r in mine] == [booked["id"]]

    cancelled = expect(client.delete(f"/registrations/{booked['id']}", headers=parent), 200)
    assert (cancelled["status"], cancelled["refund"]) == ("CANCELLED", PRICE)
    assert expect(client.get(f"/trips/{trip_id}"), 200)["seats_left"] == 2
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        payment = expect(client.get(f"/payments/{paid['id']}", headers=parent), 200)
        if payment["status"] == "REFUNDED":
            break
        time.sleep(0.02)
    assert payment["refunded"] == PRICE, payment


def test_seed_000s_body_with_an_amount_is_refused_and_changes_nothing(
    client: TestClient[Any],
) -> None:
    admin = admin_headers(client)
    trip_id = make_trip(client, admin)
    parent = sign_up(client, "parent@example.com")
    booked = expect(
        client.post(
            "/registrations", json={"trip_id": trip_id, "student_name": "Ann"}, headers=parent
        ),
        201,
    )
    body = {"registration_id": booked["id"], "amount": 1, **SEED_000_CARD}

    response = client.post("/payments", json=body, headers=parent)

    problem = expect_problem(response, 422, "validation_error")
    assert "the amount is the trip's price" in problem["detail"], problem
    assert (
        expect(client.get(f"/registrations/{booked['id']}", headers=parent), 200)["payment_id"]
        is None
    )


def test_another_parents_registration_cannot_be_paid(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    trip_id = make_trip(client, admin)
    parent = sign_up(client, "parent@example.com")
    other = sign_up(client, "other@example.com")
    booked = expect(
        client.post(
            "/registrations", json={"trip_id": trip_id, "student_name": "Ann"}, headers=parent
        ),
        201,
    )

    response = client.post(
        "/payments", json={"registration_id": booked["id"], **SEED_000_CARD}, headers=other
    )

    expect_problem(response, 404, "registration_not_found")


def test_the_last_seat_goes_once(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    trip_id = make_trip(client, admin, capacity=1)
    first, second = sign_up(client, "a@example.com"), sign_up(client, "b@example.com")
    body = {"trip_id": trip_id, "student_name": "Ann"}

    expect(client.post("/registrations", json=body, headers=first), 201)
    expect_problem(client.post("/registrations", json=body, headers=second), 409, "trip_full")

    trip = expect(client.get(f"/trips/{trip_id}"), 200)
    assert (trip["seats_taken"], trip["seats_left"]) == (1, 0)


def test_an_unknown_school_is_a_problem_not_a_500(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    body = {
        "school_id": "00000000-0000-4000-8000-000000000000",
        "title": "Museum",
        "location": "London",
        "date": "2030-01-01T10:00:00Z",
        "price": PRICE,
        "capacity": 3,
    }

    expect_problem(client.post("/trips", json=body, headers=admin), 404, "school_not_found")
