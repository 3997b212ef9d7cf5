"""Two `payledger serve` processes on one PostgreSQL schema, each running the installment
scheduler in-process (the default), scanning for due installments every few milliseconds:
both find the same installments due at once and race to charge them. Each installment is
charged exactly once (one payment per installment in the log), wallet first and then the
card, and every plan completes."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg.sql import SQL, Identifier

from tests.e2e import api
from tests.support.server import running_server
from tests.support.services import POSTGRES

pytestmark = pytest.mark.e2e

PLANS = 12
WALLET_FUNDS = 6 * 1_000  # covers some installments; the card pays the others
SETTLE_TIMEOUT_S = 60.0
FAST_SCHEDULER = {
    "PAYLEDGER_INSTALLMENT_SCAN_INTERVAL_S": "0.01",
    "PAYLEDGER_WORKERS_POLL_INTERVAL_S": "0.05",
    "PAYLEDGER_GATEWAY_LATENCY_MS": "20",  # the card's answer takes a while: races overlap
}


def installment_payments(schema: str) -> Counter[str]:
    """Payments in the log that pay an installment, by the installment they pay."""
    statement = SQL("SELECT state FROM {}.payledger_events WHERE topic LIKE %s").format(
        Identifier(schema)
    )
    with POSTGRES.connect() as conn:
        rows = conn.execute(statement, ("%Payment.Created",)).fetchall()
    states = [json.loads(bytes(row[0])) for row in rows]  # type: ignore[arg-type]
    return Counter(
        state["reference"] for state in states if state["reference"].startswith("installment:")
    )


def conflicts(base_url: str) -> float:
    """The server's `payledger_concurrency_conflicts_total`."""
    with api.client(base_url) as http:
        text = http.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("payledger_concurrency_conf")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def completed(http: Any, order_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found: dict[str, Any] = api.expect(http.get(f"/installments/orders/{order_id}"), 200)
        if found["status"] not in ("PENDING", "ACTIVE"):
            return found
        assert time.monotonic() < deadline, f"never finished: {found}"
        time.sleep(0.05)


def test_two_serve_processes_charge_each_due_installment_once() -> None:
    with running_server("postgres", extra_settings=FAST_SCHEDULER) as first:  # noqa: SIM117
        with running_server(
            "postgres", extra_settings=FAST_SCHEDULER, shared_schema=first.schema
        ) as second:
            customer = api.new_customer("instalments")
            with api.client(first.base_url) as http:
                api.open_wallet(http, customer)
                api.expect(api.credit(http, customer, WALLET_FUNDS), 201)
                soon = datetime.now(UTC) + timedelta(seconds=1)
                body = {
                    "customer_id": customer,
                    "amount": 2_000,
                    "currency": "USD",
                    "schedule": [
                        {"due_date": soon.isoformat(), "amount": 1_000},
                        {"due_date": (soon + timedelta(seconds=1)).isoformat(), "amount": 1_000},
                    ],
                    "payment_method": "pm_card_visa",
                }
                orders = []
                for n in range(PLANS):
                    server = (first, second)[n % 2]
                    with api.client(server.base_url) as peer:
                        order = api.expect(peer.post("/installments/orders", json=body), 201)
                        path = f"/installments/orders/{order['id']}/activate"
                        api.expect(peer.post(path), 200)
                    orders.append(order["id"])

            with api.client(second.base_url) as http:
                finished = [completed(http, order_id) for order_id in orders]
                assert {plan["status"] for plan in finished} == {"COMPLETED"}, finished
                assert {i["attempts"] for p in finished for i in p["installments"]} == {1}
                wallet = api.wallet(http, customer)
                assert (wallet["balance"], wallet["held"]) == (0, 0)

            charged = installment_payments(str(first.schema))
            assert len(charged) == 2 * PLANS
            assert set(charged.values()) == {1}, charged
            # No scheduler failed; how often the event store refused a racing loser's save.
            logs = [server.log_tail(200_000) for server in (first, second)]
            assert all("Traceback" not in log for log in logs), logs
            # The race was real: losers' saves were refused by the event store (and retried).
            assert sum(conflicts(server.base_url) for server in (first, second)) >= 1
