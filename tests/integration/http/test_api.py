"""The happy path of every route, through the HTTP API on an in-memory store."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import (
    all_balances,
    credit,
    expect,
    open_wallet,
    position_of,
    running_client,
    wallet,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Any:
    with running_client() as client:
        yield client


def test_opens_a_wallet_and_points_to_it(client: TestClient[Any]) -> None:
    response = client.post(
        "/wallets", json={"customer_id": "alice", "currency": "USD", "overdraft_limit": 500}
    )
    opened = expect(response, 201)
    assert response.headers["location"] == "/wallets/alice?currency=USD"
    assert position_of(response) >= 1
    assert opened["customer_id"] == "alice"
    assert opened["currency"] == "USD"
    assert (opened["balance"], opened["held"], opened["overdraft_limit"]) == (0, 0, 500)
    assert opened["available"] == 500
    shown = expect(client.get(response.headers["location"]), 200)
    assert shown == opened  # with `?currency=`, the one wallet itself


def test_location_of_a_wallet_escapes_the_customer_id(client: TestClient[Any]) -> None:
    response = open_wallet(client, "ann lee&co", "EUR")
    assert response.headers["location"] == "/wallets/ann%20lee%26co?currency=EUR"


def test_lists_a_customers_wallets_from_the_read_model(client: TestClient[Any]) -> None:
    open_wallet(client, "alice", "USD")
    last = open_wallet(client, "alice", "EUR")
    listed = expect(client.get("/wallets/alice", params={"min_position": position_of(last)}), 200)
    assert listed["customer_id"] == "alice"
    assert [w["currency"] for w in listed["wallets"]] == ["EUR", "USD"]


def test_reads_one_wallet_straight_from_the_event_store(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    credit(client, "alice", 25_000)
    # No min_position: a single wallet by currency is strongly consistent.
    assert wallet(client, "alice")["balance"] == 25_000


def test_credits_and_debits_a_wallet(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    credited = credit(client, "alice", 25_000, description="salary")
    transaction = credited.json()
    assert credited.headers["location"] == f"/transactions/{transaction['id']}"
    assert transaction["kind"] == "credit"
    assert transaction["description"] == "salary"
    legs = {p["account"]: p for p in transaction["postings"]}
    assert legs["wallet:alice"]["amount"] == 25_000
    assert legs["wallet:alice"]["balance_after"] == 25_000
    assert legs["system:external_funding"]["amount"] == -25_000

    debited = client.post("/wallets/alice/debit", json={"amount": 4_000, "currency": "USD"})
    payout = expect(debited, 201)
    assert position_of(debited) > position_of(credited)
    legs = {p["account"]: p for p in payout["postings"]}
    assert legs["wallet:alice"]["amount"] == -4_000
    assert legs["wallet:alice"]["balance_after"] == 21_000
    assert legs["system:external_payouts"]["amount"] == 4_000
    assert wallet(client, "alice")["balance"] == 21_000


def test_transfers_between_wallets_and_reads_the_transaction(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    open_wallet(client, "bob")
    credit(client, "alice", 10_000)
    response = client.post(
        "/transfers",
        json={
            "from_customer_id": "alice",
            "to_customer_id": "bob",
            "amount": 2_500,
            "currency": "USD",
            "description": "rent",
        },
    )
    transfer = expect(response, 201)
    assert response.headers["location"] == f"/transactions/{transfer['id']}"
    assert transfer["kind"] == "transfer"
    assert sum(p["amount"] for p in transfer["postings"]) == 0
    assert expect(client.get(response.headers["location"]), 200) == transfer
    assert wallet(client, "alice")["balance"] == 7_500
    assert wallet(client, "bob")["balance"] == 2_500


def test_statement_pages_newest_first_with_running_balances(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    last = None
    for amount in (100, 200, 300, 400, 500):
        last = credit(client, "alice", amount)
    assert last is not None
    params: dict[str, Any] = {"currency": "USD", "limit": 2, "min_position": position_of(last)}
    entries: list[Any] = []
    pages = 0
    while True:
        page = expect(client.get("/wallets/alice/ledger", params=params), 200)
        pages += 1
        assert (page["customer_id"], page["currency"]) == ("alice", "USD")
        assert len(page["entries"]) <= 2
        entries.extend(page["entries"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 3
    assert [e["amount"] for e in entries] == [500, 400, 300, 200, 100]
    assert [e["balance_after"] for e in entries] == [1500, 1000, 600, 300, 100]


def test_places_reads_and_posts_part_of_a_hold(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    open_wallet(client, "shop")
    credit(client, "alice", 10_000)
    placed = client.post(
        "/wallets/alice/holds",
        json={
            "amount": 6_000,
            "currency": "USD",
            "expires_in_s": 3_600,
            "description": "order 7",
        },
    )
    hold = expect(placed, 201)
    assert placed.headers["location"] == f"/holds/{hold['id']}"
    assert position_of(placed) >= 1
    assert (hold["status"], hold["amount"], hold["expires_at"] is not None) == (
        "PENDING",
        6_000,
        True,
    )
    assert wallet(client, "alice")["available"] == 4_000
    assert expect(client.get(f"/holds/{hold['id']}"), 200) == hold

    posted = client.post(
        f"/holds/{hold['id']}/post", json={"amount": 5_000, "to_customer_id": "shop"}
    )
    capture = expect(posted, 201)
    assert posted.headers["location"] == f"/transactions/{capture['id']}"
    assert capture["kind"] == "hold_capture"
    assert capture["reference"] == hold["id"]
    after = expect(client.get(f"/holds/{hold['id']}"), 200)
    assert (after["status"], after["posted_amount"]) == ("POSTED", 5_000)
    alice = wallet(client, "alice")
    assert (alice["balance"], alice["held"], alice["available"]) == (5_000, 0, 5_000)
    assert wallet(client, "shop")["balance"] == 5_000


def test_posts_a_whole_hold_out_of_the_ledger(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    credit(client, "alice", 1_000)
    hold = expect(client.post("/wallets/alice/holds", json={"amount": 700, "currency": "USD"}), 201)
    assert hold["expires_at"] is None
    capture = expect(client.post(f"/holds/{hold['id']}/post", json={}), 201)
    legs = {p["account"]: p["amount"] for p in capture["postings"]}
    assert legs == {"wallet:alice": -700, "system:external_payouts": 700}
    assert wallet(client, "alice")["balance"] == 300


def test_voids_a_hold(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    credit(client, "alice", 1_000)
    hold = expect(client.post("/wallets/alice/holds", json={"amount": 800, "currency": "USD"}), 201)
    voided = client.post(f"/holds/{hold['id']}/void", json={"reason": "customer cancelled"})
    body = expect(voided, 200)
    assert position_of(voided) >= 1
    assert body["status"] == "VOIDED"
    alice = wallet(client, "alice")
    assert (alice["balance"], alice["held"], alice["available"]) == (1_000, 0, 1_000)


def test_lists_every_balance_and_money_is_conserved(client: TestClient[Any]) -> None:
    open_wallet(client, "alice")
    open_wallet(client, "bob")
    credit(client, "alice", 9_000)
    client.post(
        "/transfers",
        json={
            "from_customer_id": "alice",
            "to_customer_id": "bob",
            "amount": 1_000,
            "currency": "USD",
        },
    )
    last = client.post("/wallets/bob/debit", json={"amount": 300, "currency": "USD"})
    rows = all_balances(client, min_position=position_of(last))
    by_account = {row["account"]: row["balance"] for row in rows}
    assert by_account == {
        "wallet:alice": 8_000,
        "wallet:bob": 700,
        "system:external_funding": -9_000,
        "system:external_payouts": 300,
    }
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["balance"]
    assert totals == {"USD": 0}


def test_health_answers_ok(client: TestClient[Any]) -> None:
    assert expect(client.get("/health"), 200) == {"status": "ok"}


def test_ready_reports_the_log_and_view_positions(client: TestClient[Any]) -> None:
    last = open_wallet(client, "alice")
    client.get("/wallets/alice", params={"min_position": position_of(last)})
    ready = expect(client.get("/ready"), 200)
    assert ready["ready"] is True
    assert ready["database"] == "ok"
    assert ready["log_position"] >= position_of(last)
    assert ready["view_lag"] >= 0


def test_accepts_json_declared_with_a_utf8_charset(client: TestClient[Any]) -> None:
    open_wallet(client, "zoë")
    response = client.post(
        "/wallets/zoë/credit",
        content='{"amount": 10, "currency": "USD", "description": "café"}'.encode(),
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert expect(response, 201)["description"] == "café"


def test_balances_come_a_page_at_a_time_each_account_once(client: TestClient[Any]) -> None:
    for name in ("p1", "p2", "p3", "p4", "p5"):
        open_wallet(client, name)
        last = credit(client, name, 100)
    position = position_of(last)
    everything = all_balances(client, min_position=position)
    assert len(everything) == 6  # five wallets and the external funding account

    pages, cursor = [], None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, "min_position": position}
        if cursor is not None:
            params["cursor"] = cursor
        page = expect(client.get("/balances", params=params), 200)
        assert set(page) == {"balances", "next_cursor"}
        pages.append(page["balances"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    ids = [row["account_id"] for p in pages for row in p]
    assert ids == sorted(ids) == [row["account_id"] for row in everything]


def test_a_balance_cursor_from_elsewhere_is_a_422_problem(client: TestClient[Any]) -> None:
    open_wallet(client, "q1")
    statement_cursor = "seq_1"  # a statement's cursor, not a balance page's
    for cursor in (statement_cursor, "not-a-cursor", "acct_" + "0" * 31):
        response = client.get("/balances", params={"cursor": cursor})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"][0]["path"] == "cursor"
