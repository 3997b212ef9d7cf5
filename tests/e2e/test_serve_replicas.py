"""Two `payledger serve` processes on one PostgreSQL schema, each running the projections
and the payment processor in-process (the default), with payments made through both.

Both processors follow the same log and race to settle the same payments; both sets of
projections race to apply the same events. The settlement is idempotent (an attempt is
recorded with its gateway key before the gateway is asked; the outcome is saved under
optimistic concurrency, so the loser's save conflicts and finds the payment settled) and
the views are exactly-once (a view's rows commit with its tracking position; the second
writer of a position fails and rolls back). So: every payment settles exactly once (one
journal entry each, Stripe executes each attempt key once), and every view equals the log.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from psycopg.sql import SQL, Identifier

from tests.e2e import api
from tests.support.fake_stripe import API_KEY, FakeStripe, running_fake_stripe
from tests.support.server import RunningServer, running_server
from tests.support.services import POSTGRES

pytestmark = pytest.mark.e2e

CARD_PAYMENTS = 24
WALLET_PAYMENTS = 24
PAYERS = 4
OPENING_BALANCE = 100_000
SETTLE_TIMEOUT_S = 60.0
CLIENT_THREADS = 8


@pytest.fixture(scope="module")
def stripe() -> Iterator[FakeStripe]:
    with running_fake_stripe() as fake:
        yield fake


@pytest.fixture(scope="module")
def replicas(stripe: FakeStripe) -> Iterator[tuple[RunningServer, RunningServer]]:
    settings = {
        "PAYLEDGER_GATEWAY": "stripe",
        "PAYLEDGER_STRIPE_API_KEY": API_KEY,
        "PAYLEDGER_STRIPE_API_BASE": stripe.base_url,
    }
    with running_server("postgres", extra_settings=settings) as first:  # noqa: SIM117
        with running_server(
            "postgres", extra_settings=settings, shared_schema=first.schema
        ) as second:
            yield first, second


def pay(base_url: str, body: dict[str, Any]) -> str:
    with api.client(base_url) as http:
        created = api.expect(http.post("/payments", json=body), 201)
    payment_id: str = created["id"]
    return payment_id


def settled(http: httpx.Client, payment_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found: dict[str, Any] = api.expect(http.get(f"/payments/{payment_id}"), 200)
        if found["status"] not in ("CREATED", "PROCESSING"):
            return found
        assert time.monotonic() < deadline, f"never settled: {found}"
        time.sleep(0.05)


def journal_entries_by_payment(schema: str) -> Counter[str]:
    """Payment journal entries in the log, by the payment they settle (read in SQL)."""
    statement = SQL("SELECT state FROM {}.payledger_events WHERE topic LIKE %s").format(
        Identifier(schema)
    )
    with POSTGRES.connect() as conn:
        rows = conn.execute(statement, ("%JournalTransaction.Recorded",)).fetchall()
    entries = [json.loads(bytes(row[0])) for row in rows]  # type: ignore[arg-type]
    return Counter(entry["reference"] for entry in entries if entry["kind"] == "payment")


def test_two_serve_processes_settle_each_payment_once_and_views_equal_the_log(
    replicas: tuple[RunningServer, RunningServer], stripe: FakeStripe
) -> None:
    first, second = replicas
    shop = api.new_customer("shop")
    payers = [api.new_customer("payer") for _ in range(PAYERS)]
    with api.client(first.base_url) as http:
        for payer in payers:
            api.open_wallet(http, payer)
            api.expect(api.credit(http, payer, OPENING_BALANCE), 201)
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
    bodies = [
        {"amount": 100 + n, "currency": "USD", "recipient": shop, "method": "card", "card": card}
        for n in range(CARD_PAYMENTS)
    ] + [
        {
            "amount": 10 + n,
            "currency": "USD",
            "recipient": shop,
            "method": "wallet",
            "payer_id": payers[n % PAYERS],
        }
        for n in range(WALLET_PAYMENTS)
    ]
    targets = [(first, second)[n % 2].base_url for n in range(len(bodies))]
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        ids = list(pool.map(pay, targets, bodies))

    with api.client(second.base_url) as http:
        outcomes = [settled(http, payment_id) for payment_id in ids]
    assert {o["status"] for o in outcomes} == {"SUCCESS"}, outcomes

    # Settled once: one journal entry per payment, one Stripe execution per attempt key.
    assert journal_entries_by_payment(str(first.schema)) == Counter(ids)
    card_ids = ids[:CARD_PAYMENTS]
    assert {stripe.executions(f"{payment_id}:1") for payment_id in card_ids} == {1}
    assert len(stripe.payment_intent_ids()) == CARD_PAYMENTS

    # Views equal the log, in both processes: balances, the payments list, every follower.
    card_total = sum(b["amount"] for b in bodies[:CARD_PAYMENTS])
    wallet_total = sum(b["amount"] for b in bodies[CARD_PAYMENTS:])
    for server in replicas:
        with api.client(server.base_url) as http:
            end = api.expect(http.get("/ready"), 200)["log_position"]
            balances = {row["account"]: row["balance"] for row in api.balances(http, end)}
            assert balances[f"payable:{shop}"] == card_total + wallet_total
            assert balances["system:gateway_clearing"] == -card_total
            assert sum(balances[f"wallet:{p}"] for p in payers) == (
                PAYERS * OPENING_BALANCE - wallet_total
            )
            assert api.sums_by_currency(api.balances(http, end)) == {"USD": 0}
            listed = api.expect(
                http.get("/payments", params={"min_position": end, "limit": 200}), 200
            )
            by_id = {row["id"]: row["status"] for row in listed["payments"]}
            assert {payment_id: by_id[payment_id] for payment_id in ids} == dict.fromkeys(
                ids, "SUCCESS"
            )
            ready = api.expect(http.get("/ready"), 200)
            assert {view["name"]: view["position"] for view in ready["views"]} == {
                "ledger_view": end,
                "payments_view": end,
                "payment_processor": end,
                "installments_view": end,
                "installment_scheduler": end,
                "webhook_dispatcher": end,
            }, ready


def test_a_write_through_one_process_is_read_through_the_other_at_once(
    replicas: tuple[RunningServer, RunningServer],
) -> None:
    """Read-your-writes across processes, with the log quiet (reads check the log's head and
    may answer from the cache) and with it moving under other clients' writes (reads ask
    for the wallet's newer events)."""
    first, second = replicas
    mine, busy = api.new_customer("ryw"), api.new_customer("busy")
    with api.client(first.base_url) as http:
        api.open_wallet(http, mine)
        api.open_wallet(http, busy)
    stop = threading.Event()

    def keep_the_log_moving() -> int:
        made = 0
        with api.client(first.base_url) as one, api.client(second.base_url) as other:
            while not stop.is_set():
                api.expect(api.credit((one, other)[made % 2], busy, 1), 201)
                made += 1
        return made

    with api.client(first.base_url) as one, api.client(second.base_url) as other:
        for phase in ("quiet", "moving"):
            with ThreadPoolExecutor(1) as pool:
                moving = pool.submit(keep_the_log_moving) if phase == "moving" else None
                for n in range(30):
                    writer, reader = (one, other) if n % 2 == 0 else (other, one)
                    for _ in range(2):  # twice: the second read may come from the cache
                        before = api.wallet(reader, mine)["balance"]
                    written = api.expect(api.credit(writer, mine, 10 + n), 201)
                    after = api.wallet(reader, mine)
                    assert after["balance"] == before + 10 + n, (phase, n, after)
                    assert after["balance"] == api.wallet_posting(written, mine)["balance_after"]
                stop.set()
                if moving is not None:
                    assert moving.result() > 0
            stop.clear()
