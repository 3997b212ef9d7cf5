"""Racing duplicates: 16 requests with one Idempotency-Key, sent at once from two client
processes (8 threads each) through two server processes on one PostgreSQL schema, for every
keyed POST. All 16 get the winner's answer (status and body), exactly one is not a replay,
and the effect happens once. Then: one key names one operation everywhere."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.e2e.workers import Burst, Sent, overlap, run_bursts
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

PER_PROCESS = 8  # requests (and threads) per client process: 16 in all
OPENING = 10_000
PROCESSING_ERROR_CARD = "4000000000000119"  # fails every attempt, retryably


@dataclass(frozen=True)
class Race:
    """One keyed POST to race, and how to check it took effect exactly once."""

    path: str
    body: dict[str, Any]
    check: Callable[[httpx.Client, Any], None]  # given the winner's JSON body


def funded(http: httpx.Client, amount: int = OPENING) -> str:
    customer = api.new_customer("race")
    api.open_wallet(http, customer)
    api.expect(api.credit(http, customer, amount), 201)
    return customer


def entries_of(http: httpx.Client, customer: str) -> list[api.Json]:
    position = api.expect(http.get("/ready"), 200)["log_position"]
    entries, _ = api.statement(http, customer, "USD", position)
    return entries


def place_hold(http: httpx.Client, customer: str, amount: int) -> api.Json:
    body = {"amount": amount, "currency": "USD"}
    held: api.Json = api.expect(http.post(f"/wallets/{customer}/holds", json=body), 201)
    return held


def wallet_payment(http: httpx.Client, payer: str, amount: int) -> api.Json:
    body = {
        "amount": amount,
        "currency": "USD",
        "recipient": api.new_customer("shop"),
        "method": "wallet",
        "payer_id": payer,
    }
    paid: api.Json = api.expect(http.post("/payments", json=body, params={"wait": "true"}), 201)
    assert paid["status"] == "SUCCESS", paid
    return paid


def open_wallet_race(http: httpx.Client) -> Race:
    customer = api.new_customer("race-open")

    def check(http: httpx.Client, won: Any) -> None:
        found = api.wallet(http, customer)
        assert (found["id"], found["version"], found["balance"]) == (won["id"], 1, 0), found

    return Race("/wallets", {"customer_id": customer, "currency": "USD"}, check)


def credit_race(http: httpx.Client) -> Race:
    customer = api.new_customer("race-credit")
    api.open_wallet(http, customer)

    def check(http: httpx.Client, won: Any) -> None:
        assert api.wallet(http, customer)["balance"] == 700
        assert [e["transaction_id"] for e in entries_of(http, customer)] == [won["id"]]

    return Race(f"/wallets/{customer}/credit", {"amount": 700, "currency": "USD"}, check)


def debit_race(http: httpx.Client) -> Race:
    customer = funded(http)

    def check(http: httpx.Client, won: Any) -> None:
        assert api.wallet(http, customer)["balance"] == OPENING - 300
        assert entries_of(http, customer)[0]["transaction_id"] == won["id"]
        assert len(entries_of(http, customer)) == 2

    return Race(f"/wallets/{customer}/debit", {"amount": 300, "currency": "USD"}, check)


def transfer_race(http: httpx.Client) -> Race:
    payer, payee = funded(http), api.new_customer("race-to")
    api.open_wallet(http, payee)
    body = {"from_customer_id": payer, "to_customer_id": payee, "amount": 250, "currency": "USD"}

    def check(http: httpx.Client, won: Any) -> None:
        assert api.wallet(http, payer)["balance"] == OPENING - 250
        assert api.wallet(http, payee)["balance"] == 250
        assert [e["transaction_id"] for e in entries_of(http, payee)] == [won["id"]]

    return Race("/transfers", body, check)


def payment_race(http: httpx.Client) -> Race:
    payer = funded(http)
    body = {
        "amount": 400,
        "currency": "USD",
        "recipient": "race-shop",
        "method": "wallet",
        "payer_id": payer,
    }

    def check(http: httpx.Client, won: Any) -> None:
        position = api.expect(http.get("/ready"), 200)["log_position"]
        listed = api.expect(
            http.get("/payments", params={"payer_id": payer, "min_position": position}), 200
        )
        assert [p["id"] for p in listed["payments"]] == [won["id"]], listed

    return Race("/payments", body, check)


def retry_race(http: httpx.Client) -> Race:
    body = {
        "amount": 300,
        "currency": "USD",
        "recipient": "race-shop",
        "method": "card",
        "card": {"number": PROCESSING_ERROR_CARD, "exp_month": 12, "exp_year": 2030},
    }
    failed = api.expect(http.post("/payments", json=body, params={"wait": "true"}), 201)
    assert (failed["status"], failed["retryable"]) == ("FAILED", True), failed

    def check(http: httpx.Client, won: Any) -> None:
        assert (won["status"], won["attempts"]) == ("PROCESSING", 2), won
        found = api.expect(http.get(f"/payments/{failed['id']}"), 200)
        assert found["attempts"] == 2, found  # one retry, not 16

    return Race(f"/payments/{failed['id']}/retry", {}, check)


def refund_race(http: httpx.Client) -> Race:
    payer = funded(http)
    paid = wallet_payment(http, payer, 1_000)

    def check(http: httpx.Client, won: Any) -> None:
        found = api.expect(http.get(f"/payments/{paid['id']}"), 200)
        assert (found["refunded"], found["status"]) == (100, "PARTIALLY_REFUNDED"), found
        assert api.wallet(http, payer)["balance"] == OPENING - 1_000 + 100

    return Race(f"/payments/{paid['id']}/refund", {"amount": 100}, check)


def hold_race(http: httpx.Client) -> Race:
    customer = funded(http)

    def check(http: httpx.Client, won: Any) -> None:
        assert api.wallet(http, customer)["held"] == 600
        assert api.expect(http.get(f"/holds/{won['id']}"), 200)["status"] == "PENDING"

    return Race(f"/wallets/{customer}/holds", {"amount": 600, "currency": "USD"}, check)


def hold_post_race(http: httpx.Client) -> Race:
    customer = funded(http)
    held = place_hold(http, customer, 800)

    def check(http: httpx.Client, won: Any) -> None:
        found = api.wallet(http, customer)
        assert (found["balance"], found["held"]) == (OPENING - 500, 0), found
        hold = api.expect(http.get(f"/holds/{held['id']}"), 200)
        assert (hold["status"], hold["posted_amount"]) == ("POSTED", 500), hold

    return Race(f"/holds/{held['id']}/post", {"amount": 500}, check)


def hold_void_race(http: httpx.Client) -> Race:
    customer = funded(http)
    held = place_hold(http, customer, 800)

    def check(http: httpx.Client, won: Any) -> None:
        found = api.wallet(http, customer)
        assert (found["balance"], found["held"]) == (OPENING, 0), found
        assert api.expect(http.get(f"/holds/{held['id']}"), 200)["status"] == "VOIDED"

    return Race(f"/holds/{held['id']}/void", {}, check)


def charge_race(http: httpx.Client) -> Race:
    customer = funded(http)
    body = {"customer_id": customer, "recipient": "race-shop", "amount": 900, "currency": "USD"}

    def check(http: httpx.Client, won: Any) -> None:
        assert (won["status"], won["wallet_amount"]) == ("SUCCESS", 900), won
        assert api.wallet(http, customer)["balance"] == OPENING - 900
        assert len(entries_of(http, customer)) == 2

    return Race("/charges", body, check)


RACES: dict[str, Callable[[httpx.Client], Race]] = {
    "open wallet": open_wallet_race,
    "credit": credit_race,
    "debit": debit_race,
    "transfer": transfer_race,
    "payment": payment_race,
    "retry": retry_race,
    "refund": refund_race,
    "hold": hold_race,
    "hold post": hold_post_race,
    "hold void": hold_void_race,
    "charge": charge_race,
}


def describe(sent: list[Sent]) -> str:
    kinds = Counter((s.status, s.body[:200]) for s in sent)
    return "\n".join(f"{n} x {status} {body!r}" for (status, body), n in kinds.items())


@pytest.mark.parametrize("name", list(RACES))
def test_racing_duplicates_all_get_the_winners_answer_and_act_once(
    pg_server: RunningServer, pg_peer: RunningServer, name: str
) -> None:
    with api.client(pg_server.base_url) as http:
        race = RACES[name](http)
    headers = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    bursts = [
        Burst(
            server.base_url,
            race.path,
            race.body,
            PER_PROCESS,
            PER_PROCESS,
            headers,
            token=pg_server.admin_token,
        )
        for server in (pg_server, pg_peer)
    ]
    sent = run_bursts(bursts)

    assert len(sent) == 2 * PER_PROCESS
    assert overlap(sent).processes_in_flight_max > 1, overlap(sent)
    assert len({(s.status, s.body) for s in sent}) == 1, describe(sent)
    assert 200 <= sent[0].status < 300, describe(sent)
    replayed = [s.headers.get(api.REPLAYED_HEADER.lower()) == "true" for s in sent]
    assert replayed.count(False) == 1, f"{replayed.count(False)} originals:\n{describe(sent)}"
    with api.client(pg_server.base_url) as http:
        race.check(http, json.loads(sent[0].body))


def test_one_key_names_one_operation_everywhere(pg_server: RunningServer) -> None:
    with api.client(pg_server.base_url) as http:
        payer = funded(http)
        paid = wallet_payment(http, payer, 1_000)
        refund_key = {"Idempotency-Key": f"refund-{uuid.uuid4()}"}
        refunded = http.post(
            f"/payments/{paid['id']}/refund", json={"amount": 100}, headers=refund_key
        )
        api.expect(refunded, 201)
        credit_key = {"Idempotency-Key": f"credit-{uuid.uuid4()}"}
        api.expect(api_credit(http, payer, 50, credit_key), 201)
        wallet_before = api.wallet(http, payer)
        payment_before = api.expect(http.get(f"/payments/{paid['id']}"), 200)

        # The refund's key used for a credit, and the credit's key used for a refund.
        reused = api_credit(http, payer, 50, refund_key)
        api.expect_problem(reused, 422, "idempotency_key_reused")
        refund = http.post(
            f"/payments/{paid['id']}/refund", json={"amount": 50}, headers=credit_key
        )
        api.expect_problem(refund, 422, "idempotency_key_reused")

        assert api.wallet(http, payer) == wallet_before
        assert api.expect(http.get(f"/payments/{paid['id']}"), 200) == payment_before


def api_credit(
    http: httpx.Client, customer: str, amount: int, headers: dict[str, str]
) -> httpx.Response:
    body = {"amount": amount, "currency": "USD"}
    return http.post(f"/wallets/{customer}/credit", json=body, headers=headers)
