"""A customer's whole wallet story through the real server, on both backends."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e import api
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

PAGE_SIZE = 4
SMALL_CREDITS = 5


def _transaction(response: httpx.Response, kind: str) -> api.Json:
    transaction: api.Json = api.expect(response, 201)
    assert transaction["kind"] == kind, transaction
    assert sum(p["amount"] for p in transaction["postings"]) == 0, transaction
    api.position_of(response)
    return transaction


def _balance_of(http: httpx.Client, customer: str) -> tuple[int, int, int]:
    found = api.wallet(http, customer)
    return found["balance"], found["held"], found["available"]


def exercise_wallet_flow(server: RunningServer) -> None:
    """Open, credit, transfer, refuse an overdraft, hold place/post/void, then read the
    statement page by page, the customer's wallets and the ledger-wide balances."""
    alice, bob = api.new_customer("alice"), api.new_customer("bob")
    with api.client(server.base_url) as http:
        opened = http.post("/wallets", json={"customer_id": alice, "currency": "USD"})
        wallet = api.expect(opened, 201)
        assert (wallet["balance"], wallet["held"], wallet["overdraft_limit"]) == (0, 0, 0)
        api.position_of(opened)
        again = http.post("/wallets", json={"customer_id": alice, "currency": "USD"})
        api.expect_problem(again, None, "wallet_exists")
        bob_wallet = api.open_wallet(http, bob)

        funding = _transaction(api.credit(http, alice, 10_000, description="salary"), "credit")
        assert api.wallet_posting(funding, alice)["balance_after"] == 10_000

        moved = http.post(
            "/transfers",
            json={
                "from_customer_id": alice,
                "to_customer_id": bob,
                "amount": 2_500,
                "currency": "USD",
                "description": "rent share",
            },
        )
        transfer = _transaction(moved, "transfer")
        assert api.wallet_posting(transfer, alice)["balance_after"] == 7_500
        assert api.wallet_posting(transfer, bob)["balance_after"] == 2_500

        refused = api.debit(http, alice, 20_000)
        api.expect_problem(refused, 422, "insufficient_funds")
        assert _balance_of(http, alice) == (7_500, 0, 7_500)

        placed = http.post(
            f"/wallets/{alice}/holds",
            json={
                "amount": 3_000,
                "currency": "USD",
                "expires_in_s": 600,
                "description": "hotel",
            },
        )
        hold = api.expect(placed, 201)
        assert hold["status"] == "PENDING", hold
        assert _balance_of(http, alice) == (7_500, 3_000, 4_500)
        api.expect_problem(api.debit(http, alice, 5_000), 422, "insufficient_funds")

        captured = http.post(
            f"/holds/{hold['id']}/post", json={"amount": 1_000, "to_customer_id": bob}
        )
        assert captured.status_code in (200, 201), api.describe(captured)
        capture = captured.json()
        assert api.wallet_posting(capture, alice)["balance_after"] == 6_500
        assert api.wallet_posting(capture, bob)["balance_after"] == 3_500
        assert _balance_of(http, alice) == (6_500, 0, 6_500)  # the rest was released
        api.expect_problem(
            http.post(f"/holds/{hold['id']}/void", json={}), None, "hold_not_pending"
        )

        second = api.expect(
            http.post(
                f"/wallets/{alice}/holds",
                json={
                    "amount": 2_000,
                    "currency": "USD",
                    "expires_in_s": 600,
                    "description": "car",
                },
            ),
            201,
        )
        assert _balance_of(http, alice) == (6_500, 2_000, 4_500)
        voided = http.post(f"/holds/{second['id']}/void", json={})
        assert voided.status_code in (200, 201), api.describe(voided)
        assert voided.json()["status"] == "VOIDED"
        assert _balance_of(http, alice) == (6_500, 0, 6_500)
        api.expect_problem(
            http.post(f"/holds/{second['id']}/void", json={}), None, "hold_not_pending"
        )
        assert _balance_of(http, alice) == (6_500, 0, 6_500)

        _transaction(api.debit(http, alice, 500), "debit")
        last = None
        for _ in range(SMALL_CREDITS):
            last = api.credit(http, alice, 100, description="cashback")
            _transaction(last, "credit")
        assert last is not None
        position = api.position_of(last)
        assert _balance_of(http, alice) == (6_500, 0, 6_500)

        # Statement: credit, transfer out, capture, debit, five credits = 9 entries, read
        # four at a time.
        entries, pages = api.statement(http, alice, "USD", position, limit=PAGE_SIZE)
        assert pages == [4, 4, 1], pages
        api.check_statement(entries, balance=6_500)
        assert [e["kind"] for e in entries] == [
            *["credit"] * SMALL_CREDITS,
            "debit",
            "hold_capture",
            "transfer_out",
            "credit",
        ]
        assert [e["amount"] for e in reversed(entries)] == [
            10_000,
            -2_500,
            -1_000,
            -500,
            100,
            100,
            100,
            100,
            100,
        ]
        assert all(e["position"] <= position for e in entries)
        everything, single = api.statement(http, alice, "USD", position)
        assert (everything, single) == (entries, [9])

        listed = api.expect(http.get(f"/wallets/{alice}", params={"min_position": position}), 200)
        assert [(w["currency"], w["balance"]) for w in listed["wallets"]] == [("USD", 6_500)]

        rows = api.wait_for_balances(
            http,
            position,
            {
                wallet["id"]: 6_500,
                bob_wallet["id"]: 3_500,
            },
        )
    sums = api.sums_by_currency(rows)
    assert all(total == 0 for total in sums.values()), sums
    assert "USD" in sums, sums
    accounts = {row["account"] for row in rows}
    assert {
        f"wallet:{alice}",
        f"wallet:{bob}",
        "system:external_funding",
        "system:external_payouts",
    } <= accounts, accounts


def test_wallet_flow_on_embedded_sqlite(sqlite_server: RunningServer) -> None:
    exercise_wallet_flow(sqlite_server)


def test_wallet_flow_on_postgresql(pg_server: RunningServer) -> None:
    exercise_wallet_flow(pg_server)


def test_serves_health_readiness_and_api_docs(sqlite_server: RunningServer) -> None:
    with api.client(sqlite_server.base_url) as http:
        assert http.get("/health").status_code == 200
        ready = http.get("/ready")
        assert ready.status_code == 200, api.describe(ready)
        docs = http.get("/docs")
        assert docs.status_code == 200, api.describe(docs)
        assert "text/html" in docs.headers["content-type"]
        spec = api.expect(http.get("/openapi.json"), 200)
    assert spec["openapi"].startswith("3."), spec.get("openapi")
    assert "/wallets" in spec["paths"], sorted(spec["paths"])
