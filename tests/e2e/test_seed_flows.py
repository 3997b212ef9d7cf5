"""The seed apps' flows, with their own request bodies, against real `payledger serve`
processes on SQLite and PostgreSQL (issue 7).

- Seed 001: create payments with its body (no method: the legacy processor, here failing
  half the time), read them until they settle, retry a PROCESSING_ERROR, refund a success
  with no body, read the summary in its shape.
- Seed 003: open a wallet without a currency, credit it, read it at once (no min_position),
  charge it, list the charges, read its statement.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e import api
from tests.support.seeds import SEED_001_BODY, SEED_001_PAYMENT_KEYS, SEED_001_SUMMARY_KEYS
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

SEED_001_REASONS = {"PROCESSING_ERROR", "INVALID_AMOUNT", "FRAUD_SUSPECTED", "INVALID_REQUEST"}
FAILURE_RATE = "0.5"
PAYMENTS_MAX = 40  # both outcomes turn up long before this at a 50% failure rate
RETRIES_MAX = 3
SETTLE_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seed_001_server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server of its own (its summary counts only this flow's payments) whose legacy
    processor fails half the payments, with some latency."""
    settings = {"PAYLEDGER_FAILURE_RATE": FAILURE_RATE, "PAYLEDGER_GATEWAY_LATENCY_MS": "20"}
    with running_server(request.param, extra_settings=settings) as running:
        yield running


@pytest.fixture(params=["sqlite_server", "pg_server"])
def seed_003_http(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    server: RunningServer = request.getfixturevalue(request.param)
    with api.client(server.base_url) as client:
        yield client


def settled(http: httpx.Client, payment_id: str) -> api.Json:
    """GET /payments/{id} until the payment leaves CREATED and PROCESSING (bounded)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found: api.Json = api.expect(http.get(f"/payments/{payment_id}"), 200)
        assert set(found) >= SEED_001_PAYMENT_KEYS, found
        assert found["payment_id"] == payment_id
        if found["status"] not in ("CREATED", "PROCESSING"):
            return found
        assert time.monotonic() < deadline, f"never settled: {found}"
        time.sleep(POLL_INTERVAL_S)


def pay_until_both_outcomes(http: httpx.Client) -> tuple[dict[str, api.Json], list[str]]:
    """Seed 001's request, again and again, until one payment succeeded and one failed;
    also every payment made."""
    outcomes: dict[str, api.Json] = {}
    made: list[str] = []
    for _ in range(PAYMENTS_MAX):
        response = http.post("/payments", json=SEED_001_BODY)
        created = api.expect(response, 201)
        assert created["payment_id"] == created["id"], api.describe(response)
        assert (created["status"], created["method"]) == ("CREATED", "legacy")
        made.append(created["id"])
        paid = settled(http, created["id"])
        outcomes.setdefault(paid["status"], paid)
        if {"SUCCESS", "FAILED"} <= set(outcomes):
            return outcomes, made
    raise AssertionError(f"{PAYMENTS_MAX} payments did not give both outcomes: {outcomes}")


def test_seed_001s_flow(seed_001_server: RunningServer) -> None:
    with api.client(seed_001_server.base_url) as http:
        made = seed_001_flow(http)
        expected = expected_summary(http, made)
        summary = wait_for_summary(http, expected)
    assert set(summary) >= SEED_001_SUMMARY_KEYS
    assert {key: summary[key] for key in SEED_001_SUMMARY_KEYS} == expected
    assert summary["refunded"] == 1
    assert set(summary["failure_reasons"]) <= SEED_001_REASONS


def seed_001_flow(http: httpx.Client) -> list[str]:
    """Pay, retry, refund as seed 001's clients do; returns the payments made."""
    outcomes, made = pay_until_both_outcomes(http)
    failed, paid = outcomes["FAILED"], outcomes["SUCCESS"]
    assert (failed["failure_reason"], failed["retryable"]) == ("PROCESSING_ERROR", True)
    recipient = SEED_001_BODY["recipient"]
    assert (paid["amount"], paid["currency"], paid["recipient"]) == (25000, "USD", recipient)

    # A PROCESSING_ERROR is retried (seed 001's retry endpoint) until it pays or runs out.
    retried = failed
    for attempt in range(2, RETRIES_MAX + 2):
        again = api.expect(http.post(f"/payments/{failed['id']}/retry"), 200)
        assert (again["status"], again["attempts"]) == ("PROCESSING", attempt)
        retried = settled(http, failed["id"])
        if retried["status"] == "SUCCESS":
            break
        assert retried["failure_reason"] == "PROCESSING_ERROR"
    else:
        refused = http.post(f"/payments/{failed['id']}/retry")
        api.expect_problem(refused, 409, "retry_limit_reached")

    # Seed 001 refunds with no body: everything.
    refund = http.post(f"/payments/{paid['id']}/refund")
    refunded = api.expect(refund, 201)
    assert (refunded["status"], refunded["refunded"], refunded["payment_id"]) == (
        "REFUNDED",
        25000,
        paid["id"],
    )

    # The seed's literal float amount is refused (nothing recorded), saying what to send.
    literal = http.post("/payments", json={**SEED_001_BODY, "amount": 250.00})
    assert "25000" in api.expect_problem(literal, 422, "validation_error")["detail"]
    return made


def expected_summary(http: httpx.Client, made: list[str]) -> api.Json:
    """Seed 001's summary, folded from each payment as the log has it now."""
    final = [api.expect(http.get(f"/payments/{payment_id}"), 200) for payment_id in made]
    failed = [p for p in final if p["status"] == "FAILED"]
    reasons: dict[str, int] = {}
    for payment in failed:
        reasons[payment["failure_reason"]] = reasons.get(payment["failure_reason"], 0) + 1
    return {
        "total": len(final),
        "success": sum(p["status"] == "SUCCESS" for p in final),
        "failed": len(failed),
        "refunded": sum(p["status"] == "REFUNDED" for p in final),
        "failure_reasons": reasons,
    }


def wait_for_summary(http: httpx.Client, expected: api.Json) -> api.Json:
    """GET /summary as seed 001's clients call it (no parameters) until it shows what the
    log holds: the read model follows the log within moments."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        summary: api.Json = api.expect(http.get("/summary"), 200)
        if {key: summary[key] for key in SEED_001_SUMMARY_KEYS} == expected:
            return summary
        assert time.monotonic() < deadline, f"the summary never showed {expected}: {summary}"
        time.sleep(POLL_INTERVAL_S)


# Seed 003.


def test_seed_003s_flow(seed_003_http: httpx.Client) -> None:
    http = seed_003_http
    customer = api.new_customer("seed-003")
    opened = api.expect(http.post("/wallets", json={"customer_id": customer}), 201)
    assert (opened["currency"], opened["balance"]) == ("USD", 0)
    listed = api.expect(http.get(f"/wallets/{customer}"), 200)
    assert listed == {"customer_id": customer, "wallets": [opened]}

    credit = {"amount": 10_000, "currency": "USD", "description": "top-up"}
    api.expect(http.post(f"/wallets/{customer}/credit", json=credit), 201)
    balances = [w["balance"] for w in api.expect(http.get(f"/wallets/{customer}"), 200)["wallets"]]
    assert balances == [10_000]

    body = {"customer_id": customer, "recipient": "shop", "amount": 2_500, "currency": "USD"}
    response = http.post("/charges", json=body)
    charge = api.expect(response, 201)
    assert (charge["status"], charge["wallet_amount"], charge["card_amount"]) == (
        "SUCCESS",
        2_500,
        0,
    )
    wallet = api.expect(http.get(f"/wallets/{customer}"), 200)["wallets"][0]
    assert (wallet["balance"], wallet["available"]) == (7_500, 7_500)
    assert api.wallet(http, customer) == wallet

    # Lists come from the read model: the charge's position says how far it must have read.
    position = api.position_of(response)
    params = {"customer_id": customer, "min_position": position}
    charges = api.expect(http.get("/charges", params=params), 200)["payments"]
    assert [(c["id"], c["status"], c["method"]) for c in charges] == [
        (charge["id"], "SUCCESS", "wallet_first")
    ]
    entries, _ = api.statement(http, customer, "USD", position)
    assert [e["amount"] for e in entries] == [-2_500, 10_000]
    api.check_statement(entries, 7_500)


def test_a_customers_wallets_need_no_read_model() -> None:
    """With the projections stopped, a customer's wallets still show every write at once;
    only the lists wait (and time out)."""
    settings = {"PAYLEDGER_PROJECTIONS_IN_PROCESS": "false", "PAYLEDGER_VIEW_WAIT_TIMEOUT_S": "0.1"}
    with (
        running_server("sqlite", extra_settings=settings) as server,
        api.client(server.base_url) as http,
    ):
        customer = api.new_customer("no-views")
        api.expect(http.post("/wallets", json={"customer_id": customer, "currency": "EUR"}), 201)
        credited = api.credit(http, customer, 4_200, "EUR")
        api.expect(credited, 201)
        listed = api.expect(http.get(f"/wallets/{customer}"), 200)["wallets"]
        assert [(w["currency"], w["balance"]) for w in listed] == [("EUR", 4_200)]
        stale = http.get("/balances", params={"min_position": api.position_of(credited)})
        assert stale.status_code == 503, api.describe(stale)
        assert stale.json()["code"] == "view_not_caught_up", api.describe(stale)
