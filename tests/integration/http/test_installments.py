"""Installment plans over HTTP (seed 003's installment orders), with the scheduler running
in-process on a clock the test moves: each installment charged once, wallet first, the card
for the rest; a declined one retried, then the plan defaulted; bad input as problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar.testing import TestClient

from application.ports.clock import Clock
from tests.integration.http.people_support import PASSWORD, sign_in, sign_up, user_id
from tests.integration.http.support import (
    ADMIN_EMAIL,
    TEST_PASSWORD,
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    running_client,
)
from tests.support.waiting import eventually
from tests.unit.application.fakes import FakeClock

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
ALICE = "alice@example.com"


class ClockProvider(Provider):
    """The ledger's clock is the test's."""

    scope = Scope.APP

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    @provide(override=True)
    def clock(self) -> Clock:
        return self._clock


class World:
    """A running app on a moved clock, an admin and Alice (a customer)."""

    def __init__(self, client: TestClient[Any], clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.admin = admin_headers(client)
        self.alice = sign_up(client, ALICE)
        self.alice_id = user_id(client, self.alice)

    def advance(self, delta: timedelta) -> None:
        """Move the clock; tokens are checked on it, so everyone signs in again."""
        self.clock.set(self.clock.now() + delta)
        self.admin = sign_in(self.client, ADMIN_EMAIL, TEST_PASSWORD)
        self.alice = sign_in(self.client, ALICE, PASSWORD)

    def fund(self, amount: int) -> None:
        wallets = "/wallets"
        body = {"customer_id": self.alice_id, "currency": "USD"}
        expect(self.client.post(wallets, json=body, headers=self.alice), 201)
        credit = {"amount": amount, "currency": "USD"}
        path = f"/wallets/{self.alice_id}/credit"
        expect(self.client.post(path, json=credit, headers=self.admin), 201)

    def order(self, order_id: str) -> Any:
        return expect(self.client.get(f"/installments/orders/{order_id}", headers=self.alice), 200)

    def wait_for(self, order_id: str, statuses: list[str]) -> Any:
        """Wait (bounded) until the plan's installments have these statuses."""
        eventually(lambda: [i["status"] for i in self.order(order_id)["installments"]] == statuses)
        return self.order(order_id)


@pytest.fixture
def world() -> Iterator[World]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    settings = memory_settings(
        workers_poll_interval_s=0.02,
        installment_scan_interval_s=0,
        installment_attempts_max=2,
        installment_retry_backoff_s=60,
    )
    with running_client(settings, ClockProvider(clock), signed_in=False) as client:
        yield World(client, clock)


def test_seed_003_plan_is_charged_from_the_wallet_on_each_date_until_completed(
    world: World,
) -> None:
    client = world.client
    world.fund(10_000)
    created = client.post(
        "/installments/orders", json={"amount": 9_000, "count": 3}, headers=world.alice
    )
    order = expect(created, 201)
    assert created.headers["location"] == f"/installments/orders/{order['id']}"
    assert (order["status"], order["currency"], order["customer_id"]) == (
        "PENDING",
        "USD",
        world.alice_id,
    )
    assert [i["amount"] for i in order["installments"]] == [3_000, 3_000, 3_000]
    listed = expect(client.get("/installments/orders", headers=world.alice), 200)
    assert [o["id"] for o in listed["items"]] == [order["id"]]
    path = f"/installments/orders/{order['id']}"

    active = expect(client.post(f"{path}/activate", headers=world.alice), 200)
    assert active["status"] == "ACTIVE"
    world.wait_for(order["id"], ["PAID", "SCHEDULED", "SCHEDULED"])
    world.advance(30 * DAY)
    world.wait_for(order["id"], ["PAID", "PAID", "SCHEDULED"])
    world.advance(30 * DAY)
    world.wait_for(order["id"], ["PAID", "PAID", "PAID"])

    done = world.order(order["id"])
    assert (done["status"], done["paid_amount"], done["remaining_amount"]) == (
        "COMPLETED",
        9_000,
        0,
    )
    installments = expect(client.get(f"{path}/installments", headers=world.alice), 200)["items"]
    assert [i["attempts"] for i in installments] == [1, 1, 1]
    for item in installments:  # each a wallet-first charge, paid by the wallet
        charge = expect(client.get(f"/charges/{item['payment_id']}", headers=world.alice), 200)
        assert (charge["status"], charge["wallet_amount"]) == ("SUCCESS", 3_000)
    charges = expect(client.get("/charges", headers=world.admin), 200)
    assert len(charges["payments"]) == 3
    wallet = expect(client.get(f"/wallets/{world.alice_id}?currency=USD", headers=world.alice), 200)
    assert wallet["balance"] == 1_000


def test_a_declined_card_is_retried_after_the_backoff_then_the_plan_defaults(
    world: World,
) -> None:
    client = world.client
    body = {
        "amount": 2_000,
        "currency": "USD",
        "count": 2,
        "payment_method": "pm_card_chargeDeclined",
    }
    order = expect(client.post("/installments/orders", json=body, headers=world.alice), 201)
    path = f"/installments/orders/{order['id']}"
    expect(client.post(f"{path}/activate", headers=world.alice), 200)

    failed = world.wait_for(order["id"], ["FAILED", "SCHEDULED"])["installments"][0]
    assert (failed["attempts"], failed["failure_reason"]) == (1, "CARD_DECLINED")
    assert (
        expect(client.get("/installments/due-installments", headers=world.alice), 200)["items"]
        == []
    )
    world.advance(timedelta(seconds=60))
    world.wait_for(order["id"], ["FAILED", "CANCELLED"])

    defaulted = world.order(order["id"])
    assert defaulted["status"] == "DEFAULTED"
    assert defaulted["installments"][0]["attempts"] == 2
    charges = expect(client.get("/charges", headers=world.admin), 200)
    assert sorted(c["status"] for c in charges["payments"]) == ["FAILED", "FAILED"]


def test_due_installments_lists_what_falls_due_on_active_plans_only(world: World) -> None:
    client = world.client
    later = (world.clock.now() + 10 * DAY).isoformat()
    body = {
        "amount": 500,
        "schedule": [{"due_date": later, "amount": 200}, {"due_date": later, "amount": 300}],
    }
    order = expect(client.post("/installments/orders", json=body, headers=world.alice), 201)
    assert [i["status"] for i in order["installments"]] == ["SCHEDULED", "SCHEDULED"]
    path = f"/installments/orders/{order['id']}"
    expect(client.post(f"{path}/activate", headers=world.alice), 200)
    due = "/installments/due-installments"
    assert expect(client.get(due, headers=world.alice), 200)["items"] == []

    # Once due, the wallet-less customer's installments fail (insufficient funds): no charge.
    world.advance(10 * DAY)
    world.wait_for(order["id"], ["FAILED", "FAILED"])
    cancelled = expect(
        client.post(f"{path}/cancel", json={"reason": "moved away"}, headers=world.alice), 200
    )
    assert (cancelled["status"], cancelled["reason"]) == ("CANCELLED", "moved away")
    assert expect(client.get(due, headers=world.admin), 200)["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 100, "count": 0}, 422, "invalid_installment_count"),
        ({"amount": 100, "count": 25}, 422, "invalid_installment_count"),
        ({"amount": 2, "count": 3}, 422, "invalid_installment_count"),
        ({"amount": 0, "count": 1}, 422, "validation_error"),
        ({"amount": 100, "currency": "XYZ"}, 422, "unknown_currency"),
        (
            {"amount": 100, "schedule": [{"due_date": "2031-01-01T00:00:00Z", "amount": 99}]},
            422,
            "schedule_total_mismatch",
        ),
        (
            {
                "amount": 100,
                "schedule": [
                    {"due_date": "2031-02-01T00:00:00Z", "amount": 50},
                    {"due_date": "2031-01-01T00:00:00Z", "amount": 50},
                ],
            },
            422,
            "invalid_schedule",
        ),
        (
            {"amount": 100, "schedule": [{"due_date": "2031-01-01T00:00:00", "amount": 100}]},
            422,
            "invalid_schedule",
        ),
        (
            {
                "amount": 100,
                "count": 2,
                "schedule": [{"due_date": "2031-01-01T00:00:00Z", "amount": 100}],
            },
            422,
            "invalid_schedule",
        ),
        ({"amount": 100, "interval_days": 0}, 422, "validation_error"),
        ({"amount": 100, "installments": 3}, 422, "validation_error"),
    ],
)
def test_bad_plans_are_problems_with_stable_codes(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    response = world.client.post("/installments/orders", json=body, headers=world.alice)

    expect_problem(response, status, code)
    listed = expect(world.client.get("/installments/orders", headers=world.admin), 200)
    assert listed["items"] == []


def test_wrong_transitions_and_unknown_plans_are_problems(world: World) -> None:
    client = world.client
    order = expect(
        client.post("/installments/orders", json={"amount": 100}, headers=world.alice), 201
    )
    path = f"/installments/orders/{order['id']}"
    expect(client.post(f"{path}/activate", headers=world.alice), 200)

    expect_problem(
        client.post(f"{path}/activate", headers=world.alice), 409, "invalid_plan_transition"
    )
    unknown = "/installments/orders/00000000-0000-4000-8000-000000000000"
    expect_problem(client.get(unknown, headers=world.alice), 404, "installment_plan_not_found")
    someone_else = {"amount": 100, "customer_id": "bob"}
    expect_problem(
        client.post("/installments/orders", json=someone_else, headers=world.alice),
        403,
        "forbidden",
    )
    # An admin makes a plan for any customer; an anonymous caller is refused.
    for_alice = {"amount": 100, "customer_id": world.alice_id}
    expect(client.post("/installments/orders", json=for_alice, headers=world.admin), 201)
    assert client.get("/installments/orders").status_code == 401
