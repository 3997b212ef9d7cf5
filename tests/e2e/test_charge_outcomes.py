"""Charges whose card answer is not known settle by themselves, exactly once, against real
`payledger serve` processes on PostgreSQL (the simulated gateway):

- the card's answer is lost (the TIMEOUT test card answers `unknown` the first time a process
  sees a key): the charge answers PROCESSING with its wallet part held, and without any
  resend it becomes SUCCESS; the wallet part is captured once, the card charged once;
- the API process is killed (SIGKILL) while the charge's gateway call is slow, and restarted
  on the same data: the charge settles once, and a resend of its key changes nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

TIMEOUT_CARD = "4000000000000408"
GOOD_CARD = "4242424242424242"
WALLET_PART = 300
AMOUNT = 1_000
SETTLE_TIMEOUT_S = 30.0
LATENCY_MS = 3_000  # every simulated gateway call; the kill lands inside one
APPEAR_TIMEOUT_S = 20.0


def card(number: str) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def charge_body(customer: str, shop: str, number: str) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "recipient": shop,
        "amount": AMOUNT,
        "currency": "USD",
        "card": card(number),
    }


def settled(http: httpx.Client, charge_id: str) -> api.Json:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found: api.Json = api.expect(http.get(f"/charges/{charge_id}"), 200)
        if found["status"] not in ("CREATED", "PROCESSING"):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"the charge never settled in {SETTLE_TIMEOUT_S} s: {found}")
        time.sleep(0.1)


def assert_settled_once(http: httpx.Client, customer: str, shop: str, charge: api.Json) -> None:
    """SUCCESS once: the wallet part captured once (its hold gone), the card part once."""
    assert (charge["status"], charge["wallet_amount"], charge["card_amount"]) == (
        "SUCCESS",
        WALLET_PART,
        AMOUNT - WALLET_PART,
    ), charge
    found = api.wallet(http, customer)
    assert (found["balance"], found["held"]) == (0, 0), found
    position = api.expect(http.get("/ready"), 200)["log_position"]
    entries, _ = api.statement(http, customer, "USD", position)
    assert [e["amount"] for e in entries] == [-WALLET_PART, WALLET_PART], entries
    transaction = api.expect(http.get(f"/transactions/{charge['transaction_id']}"), 200)
    assert {p["account"]: p["amount"] for p in transaction["postings"]} == {
        f"wallet:{customer}": -WALLET_PART,
        "system:gateway_clearing": -(AMOUNT - WALLET_PART),
        f"payable:{shop}": AMOUNT,
    }
    payment = api.expect(http.get(f"/payments/{charge['id']}"), 200)
    # One attempt, so one gateway key: the gateway charges a key once, however often asked.
    assert payment["attempts"] == 1, payment
    assert [step["status"] for step in payment["history"]].count("SUCCESS") == 1, payment


def funded_customer(http: httpx.Client) -> tuple[str, str]:
    customer, shop = api.new_customer("charged"), api.new_customer("shop")
    api.open_wallet(http, customer)
    api.expect(api.credit(http, customer, WALLET_PART), 201)
    return customer, shop


def test_a_charge_whose_card_answer_is_lost_settles_without_a_resend(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    # The peer runs no payment processor: its request is the first to ask the gateway about
    # the key, and gets `unknown`. `pg_server`'s processor then settles the charge.
    with api.client(pg_peer.base_url) as http:
        customer, shop = funded_customer(http)
        response = http.post("/charges", json=charge_body(customer, shop, TIMEOUT_CARD))
        answered = api.expect(response, 201)
        assert (answered["status"], answered["wallet_amount"]) == ("PROCESSING", WALLET_PART)
        held = api.wallet(http, customer)
        assert (held["balance"], held["held"], held["available"]) == (WALLET_PART, WALLET_PART, 0)

        done = settled(http, answered["id"])

        assert_settled_once(http, customer, shop, done)


def test_a_charge_survives_a_killed_api_process_and_settles_once() -> None:
    slow = {"PAYLEDGER_GATEWAY_LATENCY_MS": str(LATENCY_MS)}
    with running_server("postgres", extra_settings=slow) as first:
        with api.client(first.base_url) as http:
            customer, shop = funded_customer(http)
        key = {"Idempotency-Key": f"crash-{uuid.uuid4()}"}
        body = charge_body(customer, shop, GOOD_CARD)
        answers: list[object] = []

        def send() -> None:
            try:
                with api.client(first.base_url) as http:
                    answers.append(http.post("/charges", json=body, headers=key))
            except httpx.TransportError as error:
                answers.append(error)

        sender = threading.Thread(target=send)
        sender.start()
        charge_id = wait_for_charge(first, customer)
        first.process.kill()  # SIGKILL: no shutdown, mid gateway call
        first.process.wait(timeout=10)
        sender.join(timeout=30)
        assert len(answers) == 1
        assert isinstance(answers[0], httpx.TransportError), answers  # no answer came

        restarted = running_server("postgres", shared_schema=first.schema, extra_settings=slow)
        with restarted as second, api.client(second.base_url) as http:
            done = settled(http, charge_id)
            assert_settled_once(http, customer, shop, done)
            resent = http.post("/charges", json=body, headers=key)
            assert api.expect(resent, 201) == done
            assert api.is_replay(resent)
            assert_settled_once(http, customer, shop, done)


def wait_for_charge(server: RunningServer, customer: str) -> str:
    """The id of the customer's charge once the server has recorded it (from its list)."""
    deadline = time.monotonic() + APPEAR_TIMEOUT_S
    with api.client(server.base_url) as http:
        while time.monotonic() < deadline:
            listed = api.expect(http.get("/charges", params={"customer_id": customer}), 200)
            if listed["payments"]:
                [row] = listed["payments"]
                assert row["status"] in ("CREATED", "PROCESSING"), row  # still at the gateway
                charge_id: str = row["id"]
                return charge_id
            time.sleep(0.02)
    raise AssertionError(f"no charge of {customer} appeared in {APPEAR_TIMEOUT_S} s")
