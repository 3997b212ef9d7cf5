"""Payments end to end: real `payledger serve` processes on PostgreSQL, real parallel clients.

- Many OS processes refund one payment at once through two server processes on one schema:
  the refunds never add up to more than the capture.
- Card payments through the simulated gateway: `?wait=true`, retries up to the limit, a lost
  gateway answer settled by reconciliation, and the summary's counts.
- The Stripe adapter in a server process against the fake Stripe server (over loopback):
  the first charge call hangs past the client's timeout, reconciliation settles the payment
  with the same idempotency key, and Stripe executed the charge exactly once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.e2e.workers import Burst, Sent, overlap, run_bursts
from tests.support import fake_stripe
from tests.support.fake_stripe import API_KEY, FakeStripe, sign_webhook, stripe_event
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

SETTLE_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05
UNSETTLED = frozenset({"CREATED", "PROCESSING"})

# Cards the simulated gateway knows (adapters/gateways/cards.py).
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
PROCESSING_ERROR_CARD = "4000000000000119"  # fails every attempt, retryably
TIMEOUT_CARD = "4000000000000408"  # the first call per key and process answers `unknown`
RETRIES_MAX = 3  # PAYLEDGER_MAX_RETRIES's default

# The refund race: 4 processes x 4 threads, 20 refunds of 100 against a capture of 1000.
REFUND_PROCESSES = 4
REFUND_THREADS = 4
REFUNDS_PER_PROCESS = 5
REFUND_AMOUNT = 100
CAPTURE = 1_000
REFUNDS_COVERED = CAPTURE // REFUND_AMOUNT  # 10
REFUNDS_TOTAL = REFUND_PROCESSES * REFUNDS_PER_PROCESS  # 20
OPENING_BALANCE = 1_500

# Stripe: the adapter's read timeout is 10 s (bootstrap passes no other), so a first call
# that answers after 11 s is a timeout for the server and an execution for Stripe.
STRIPE_HANG_S = 11.0
STRIPE_SETTLE_TIMEOUT_S = 30.0
WEBHOOK_SECRET = "whsec_e2e_payledger"
FIRST_ATTEMPT_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:1")


# Helpers.


def card(number: str) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def card_payment(number: str, amount: int = 2_500, recipient: str = "shop") -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "USD",
        "recipient": recipient,
        "method": "card",
        "card": card(number),
    }


def create_payment(http: httpx.Client, body: dict[str, Any], **params: Any) -> api.Json:
    response = http.post("/payments", json=body, params=params)
    created: api.Json = api.expect(response, 201)
    assert response.headers["location"] == f"/payments/{created['id']}", api.describe(response)
    return created


def settled(http: httpx.Client, payment_id: str, timeout_s: float = SETTLE_TIMEOUT_S) -> api.Json:
    """The payment once it has left CREATED and PROCESSING (polled, bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found: api.Json = api.expect(http.get(f"/payments/{payment_id}"), 200)
        if found["status"] not in UNSETTLED:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"payment never settled in {timeout_s} s: {found}")
        time.sleep(POLL_INTERVAL_S)


def log_position(http: httpx.Client) -> int:
    ready = api.expect(http.get("/ready"), 200)
    position: int = ready["log_position"] or 0
    return position


def money_by_currency(http: httpx.Client) -> dict[str, int]:
    """Every account's balance summed per currency, once the view has read the whole log."""
    return api.sums_by_currency(api.balances(http, log_position(http)))


def balance_of(http: httpx.Client, account: str) -> int | None:
    rows = api.balances(http, log_position(http))
    found = [row["balance"] for row in rows if row["account"] == account]
    return found[0] if found else None


def postings(http: httpx.Client, transaction_id: str) -> dict[str, int]:
    transaction = api.expect(http.get(f"/transactions/{transaction_id}"), 200)
    return {posting["account"]: posting["amount"] for posting in transaction["postings"]}


def summary(http: httpx.Client) -> api.Json:
    """The payments summary once its view has read the whole log."""
    body: api.Json = api.expect(
        http.get("/summary", params={"min_position": log_position(http)}), 200
    )
    return body


def code_of(sent: Sent) -> str | None:
    try:
        body = json.loads(sent.body)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


# (a) Many parallel refunds of one payment.


def test_parallel_refunds_of_one_payment_never_exceed_the_capture(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    servers = (pg_server, pg_peer)
    customer, shop = api.new_customer("refunder"), api.new_customer("shop")
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
        api.expect(api.credit(http, customer, OPENING_BALANCE), 201)
        body = {
            "amount": CAPTURE,
            "currency": "USD",
            "recipient": shop,
            "payer_id": customer,
            "method": "wallet",
        }
        paid = create_payment(http, body, wait="true")
        assert (paid["status"], paid["captured"]) == ("SUCCESS", CAPTURE), paid
        assert api.wallet(http, customer)["balance"] == OPENING_BALANCE - CAPTURE

    bursts = [
        Burst(
            servers[i % len(servers)].base_url,
            f"/payments/{paid['id']}/refund",
            {"amount": REFUND_AMOUNT, "reason": "race"},
            REFUNDS_PER_PROCESS,
            REFUND_THREADS,
            token=pg_server.admin_token,
        )
        for i in range(REFUND_PROCESSES)
    ]
    sent = run_bursts(bursts)

    assert len(sent) == REFUNDS_TOTAL
    outcomes = Counter((s.status, None if s.status == 201 else code_of(s)) for s in sent)
    server_errors = [f"{s.status} {s.body[:300]!r}" for s in sent if s.status >= 500]
    assert not server_errors, (
        f"{len(server_errors)} server errors (all: {dict(outcomes)}): {server_errors[:3]}\n"
        + "\n".join(f"server log:\n{server.log_tail()}" for server in servers)
    )

    # The money first: exactly the capture came back, in ten refunds, none on a stale state.
    for server in servers:  # both processes see the same, final payment and wallet
        with api.client(server.base_url) as http:
            final = api.expect(http.get(f"/payments/{paid['id']}"), 200)
            assert (final["status"], final["refunded"], final["refundable"]) == (
                "REFUNDED",
                CAPTURE,
                0,
            ), final
            assert final["pending_refunds"] == 0, final
            found = api.wallet(http, customer)
            assert (found["balance"], found["held"]) == (OPENING_BALANCE, 0), found
    succeeded = [json.loads(s.body) for s in sent if s.status == 201]
    # Each success answered with the payment after it: every total from 100 to 1000 once.
    totals = sorted(refund["refunded"] for refund in succeeded)
    assert totals == list(range(REFUND_AMOUNT, CAPTURE + 1, REFUND_AMOUNT)), totals
    with api.client(pg_server.base_url) as http:
        assert balance_of(http, f"payable:{shop}") == 0
        assert set(money_by_currency(http).values()) == {0}

    # Then the answers: ten refunds, every other one refused as exceeding what is left.
    refused = {(422, "refund_exceeds_captured"), (409, "invalid_payment_transition")}
    unexpected = {k: n for k, n in outcomes.items() if k != (201, None) and k not in refused}
    assert not unexpected, f"unexpected answers {unexpected} (all: {dict(outcomes)})"
    assert outcomes[(201, None)] == REFUNDS_COVERED, dict(outcomes)
    for failure in (s for s in sent if s.status != 201):
        assert failure.headers.get("content-type", "").startswith(api.PROBLEM_CONTENT_TYPE)

    # The race really happened: requests from several client processes were in flight at once.
    seen = overlap(sent)
    assert seen.processes_in_flight_max > 1, seen
    assert seen.in_flight_max > REFUND_THREADS, seen


# (b) Card payments through the simulated gateway.


def test_card_payments_run_end_to_end_with_retries_reconciliation_and_the_summary(
    pg_server: RunningServer,
) -> None:
    shop = api.new_customer("shop")
    with api.client(pg_server.base_url) as http:
        before = summary(http)

        paid = create_payment(http, card_payment(GOOD_CARD, 2_500, shop), wait="true")
        assert (paid["status"], paid["captured"], paid["attempts"]) == ("SUCCESS", 2_500, 1)
        assert paid["card"] == {"brand": "visa", "last4": "4242"}
        assert postings(http, paid["transaction_id"]) == {
            "system:gateway_clearing": -2_500,
            f"payable:{shop}": 2_500,
        }

        # The gateway's first answer is lost: reconciliation asks again with the same key.
        lost = create_payment(http, card_payment(TIMEOUT_CARD, 700, shop))
        recovered = settled(http, lost["id"])
        assert (recovered["status"], recovered["attempts"]) == ("SUCCESS", 1), recovered

        declined = create_payment(http, card_payment(DECLINED_CARD, 300, shop), wait="true")
        assert (declined["status"], declined["failure_reason"]) == ("FAILED", "CARD_DECLINED")
        assert declined["retryable"] is False
        refused = http.post(f"/payments/{declined['id']}/retry")
        api.expect_problem(refused, 409, "payment_not_retryable")

        flaky = create_payment(http, card_payment(PROCESSING_ERROR_CARD, 400, shop), wait="true")
        assert (flaky["status"], flaky["failure_reason"]) == ("FAILED", "PROCESSING_ERROR")
        assert (flaky["retryable"], flaky["attempts"]) == (True, 1)
        for attempt in range(2, RETRIES_MAX + 2):
            retried = api.expect(http.post(f"/payments/{flaky['id']}/retry"), 200)
            assert retried["status"] == "PROCESSING", retried
            failed = settled(http, flaky["id"])
            assert (failed["status"], failed["attempts"]) == ("FAILED", attempt), failed
            assert failed["failure_reason"] == "PROCESSING_ERROR"
        refused = http.post(f"/payments/{flaky['id']}/retry")
        api.expect_problem(refused, 409, "retry_limit_reached")
        assert api.expect(http.get(f"/payments/{flaky['id']}"), 200) == failed
        assert balance_of(http, f"payable:{shop}") == 2_500 + 700

        after = summary(http)
    assert after["total"] - before["total"] == 4
    assert after["success"] - before["success"] == 2
    assert after["failed"] - before["failed"] == 2
    reasons: Counter[str] = Counter(after["failure_reasons"])
    reasons.subtract(before["failure_reasons"])
    assert +reasons == {"CARD_DECLINED": 1, "PROCESSING_ERROR": 1}, after
    assert after["by_status"]["SUCCESS"] - before["by_status"]["SUCCESS"] == 2


# (c) The Stripe adapter in a server process, against the fake Stripe server.


class HangFirstAttempts(dict[str, float]):
    """The fake's `hangs` table, answering for keys it was never told: the first request
    with any `<payment id>:1` key executes, then answers after `delay_s`. (The payment id,
    and so the key, only exists once the server has created the payment, and its processor
    calls Stripe at once.)"""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.hung: list[str] = []

    def pop(self, key: str, default: Any = None) -> Any:
        # The fake pops a key's hang only when the key's first request executes.
        if FIRST_ATTEMPT_KEY.fullmatch(key) and key not in self.hung:
            self.hung.append(key)
            return self.delay_s
        return super().pop(key, default)


@contextmanager
def running_hanging_fake_stripe(delay_s: float) -> Iterator[tuple[FakeStripe, HangFirstAttempts]]:
    """`running_fake_stripe`, with every first attempt's first call hanging `delay_s`."""
    hangs = HangFirstAttempts(delay_s)
    state = fake_stripe._State(hangs=hangs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake_stripe._handler_class(state))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(fake_stripe.POLL_INTERVAL_S,), daemon=True
    )
    thread.start()
    try:
        yield FakeStripe(server, state), hangs
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=fake_stripe.IDLE_WAIT_S)


def deliver(http: httpx.Client, event_id: str, obj: dict[str, Any]) -> str:
    payload = stripe_event(event_id, "payment_intent.succeeded", obj)
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign_webhook(payload, WEBHOOK_SECRET),
    }
    body = api.expect(http.post("/webhooks/stripe", content=payload, headers=headers), 200)
    assert body["event_id"] == event_id, body
    result: str = body["result"]
    return result


def test_a_stripe_charge_that_times_out_is_reconciled_and_charged_once() -> None:
    with running_hanging_fake_stripe(STRIPE_HANG_S) as (fake, hangs):
        settings = {
            "PAYLEDGER_GATEWAY": "stripe",
            "PAYLEDGER_STRIPE_API_KEY": API_KEY,
            "PAYLEDGER_STRIPE_API_BASE": fake.base_url,
            "PAYLEDGER_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        with running_server("postgres", extra_settings=settings) as server:
            shop = api.new_customer("shop")
            with api.client(server.base_url) as http:
                created = create_payment(http, card_payment(GOOD_CARD, 4_200, shop))
                key = f"{created['id']}:1"

                done = settled(http, created["id"], STRIPE_SETTLE_TIMEOUT_S)

                assert (done["status"], done["captured"], done["attempts"]) == (
                    "SUCCESS",
                    4_200,
                    1,
                ), f"{done}\n{server.log_tail()}"
                assert hangs.hung == [key]  # the first call did hang past the timeout...
                assert fake.requests("/v1/payment_intents") >= 2  # ...and was asked again
                assert fake.executions(key) == 1  # yet Stripe charged exactly once
                [intent_id] = fake.payment_intent_ids()
                stripe_intent = fake.payment_intent(intent_id)
                assert stripe_intent["metadata"] == {"idempotency_key": key}
                assert (stripe_intent["amount"], stripe_intent["status"]) == (4_200, "succeeded")
                assert postings(http, done["transaction_id"]) == {
                    "system:gateway_clearing": -4_200,
                    f"payable:{shop}": 4_200,
                }

                # Stripe's own event about it arrives later: it changes nothing, once.
                money = api.sums_by_currency(api.balances(http, log_position(http)))
                assert deliver(http, "evt_e2e_1", stripe_intent) == "SUCCESS"
                assert deliver(http, "evt_e2e_1", stripe_intent) == "duplicate"
                assert api.expect(http.get(f"/payments/{created['id']}"), 200) == done
                assert balance_of(http, f"payable:{shop}") == 4_200
                assert money == money_by_currency(http) == {"USD": 0}

                # A refund goes through Stripe too, once.
                refunded = api.expect(http.post(f"/payments/{created['id']}/refund", json={}), 201)
                assert (refunded["status"], refunded["refunded"]) == ("REFUNDED", 4_200)
                assert fake.requests("/v1/refunds") == 1
                assert balance_of(http, f"payable:{shop}") == 0
        fake.wait_idle()
