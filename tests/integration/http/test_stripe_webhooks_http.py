"""POST /webhooks/stripe over HTTP: signed Stripe events settle card payments whose outcome
the gateway call left unknown.

Most tests script a counting gateway to answer `unknown` for the payment's first attempt
(`<payment id>:1`), which leaves the payment PROCESSING; the last ones run the real Stripe
adapter against the local fake Stripe server. Payments are processed only when a test calls
`advance`, so nothing but the webhook moves a payment on. Every refused delivery also checks
that nothing changed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from application.settlement import PaymentSettlement
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.integration.http.payments_support import (
    ManualProcessingProvider,
    PaymentsApi,
    payments_api,
)
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
)
from tests.support.fake_stripe import API_KEY, FakeStripe, running_fake_stripe, sign_webhook
from tests.support.fake_stripe import stripe_event as event_body
from tests.unit.application.payment_fakes import GOOD_CARD, PROCESSING_ERROR_CARD, UNKNOWN, fail

pytestmark = pytest.mark.integration

SECRET = "whsec_test_payledger"
TOLERANCE_S = 300
AMOUNT = 5_000
SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"
Json = Any


@pytest.fixture
def api() -> Iterator[PaymentsApi]:
    """Webhooks configured with SECRET; a counting gateway; manual processing."""
    with payments_api(memory_settings(stripe_webhook_secret=SECRET)) as api:
        yield api


def card_payment(number: str = GOOD_CARD) -> dict[str, Any]:
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return {
        "amount": AMOUNT,
        "currency": "USD",
        "recipient": "shop",
        "method": "card",
        "card": card,
    }


def pending_payment(api: PaymentsApi) -> tuple[str, str]:
    """A card payment whose first attempt's outcome was lost: PROCESSING. (id, attempt key)"""
    created = expect(api.client.post("/payments", json=card_payment()), 201)
    key = f"{created['id']}:1"
    api.gateway.script(key, UNKNOWN)
    assert api.advance(created["id"]) == "PROCESSING"
    return created["id"], key


def intent(key: str | None, intent_id: str = "pi_test_1", **fields: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe puts it in `data.object`, carrying our attempt key."""
    obj: dict[str, Any] = {"id": intent_id, "object": "payment_intent", "amount": AMOUNT}
    if key is not None:
        obj["metadata"] = {"idempotency_key": key}
    return {**obj, **fields}


def declined(key: str, code: str, decline_code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "card_error", "code": code}
    if decline_code is not None:
        error["decline_code"] = decline_code
    return intent(key, status="requires_payment_method", last_payment_error=error)


def deliver(
    client: TestClient[Any],
    payload: bytes,
    secret: str = SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    """POST the raw payload as Stripe would: signed over these exact bytes."""
    signature = sign_webhook(payload, secret, timestamp) if header is None else header
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", content=payload, headers=headers)


def payment(client: TestClient[Any], payment_id: str) -> Json:
    """A payment, strongly consistent (from the log)."""
    return expect(client.get(f"/payments/{payment_id}"), 200)


def result_of(response: Any, event_id: str) -> str:
    body = expect(response, 200)
    assert body["event_id"] == event_id, body
    result: str = body["result"]
    return result


def balances(client: TestClient[Any]) -> dict[str, int]:
    _, rows = ledger_state(client)
    return {row["account"]: row["balance"] for row in rows}


def assert_money_conserved(client: TestClient[Any]) -> None:
    _, rows = ledger_state(client)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["balance"]
    assert set(totals.values()) <= {0}, totals


def postings(client: TestClient[Any], transaction_id: str) -> dict[str, int]:
    transaction = expect(client.get(f"/transactions/{transaction_id}"), 200)
    return {posting["account"]: posting["amount"] for posting in transaction["postings"]}


def steps(body: Json) -> list[tuple[str, str]]:
    return [(step["status"], step["reason"]) for step in body["history"]]


# Settling.


def test_a_signed_success_event_settles_a_payment_left_processing(api: PaymentsApi) -> None:
    payment_id, key = pending_payment(api)
    assert balances(api.client) == {}  # nothing journaled while the outcome is unknown

    response = deliver(api.client, event_body("evt_ok", SUCCEEDED, intent(key)))

    assert result_of(response, "evt_ok") == "SUCCESS"
    settled = payment(api.client, payment_id)
    assert (settled["status"], settled["captured"], settled["refundable"]) == (
        "SUCCESS",
        AMOUNT,
        AMOUNT,
    )
    assert steps(settled)[-1][0] == "SUCCESS"
    assert settled["transaction_id"] is not None
    assert postings(api.client, settled["transaction_id"]) == {
        "system:gateway_clearing": -AMOUNT,
        "payable:shop": AMOUNT,
    }
    assert balances(api.client) == {"system:gateway_clearing": -AMOUNT, "payable:shop": AMOUNT}
    assert_money_conserved(api.client)
    assert api.gateway.calls_for(key) == 1  # the webhook itself asks the gateway nothing


def test_the_same_event_again_is_a_duplicate_that_changes_nothing(api: PaymentsApi) -> None:
    payment_id, key = pending_payment(api)
    payload = event_body("evt_twice", SUCCEEDED, intent(key))
    assert result_of(deliver(api.client, payload), "evt_twice") == "SUCCESS"
    before, settled = ledger_state(api.client), payment(api.client, payment_id)

    again = deliver(api.client, payload)
    resigned = deliver(api.client, payload, timestamp=int(time.time()) - 10)

    assert result_of(again, "evt_twice") == "duplicate"
    assert result_of(resigned, "evt_twice") == "duplicate"
    assert ledger_state(api.client) == before
    assert payment(api.client, payment_id) == settled


def test_another_event_for_a_settled_payment_changes_no_money(api: PaymentsApi) -> None:
    payment_id, key = pending_payment(api)
    assert result_of(deliver(api.client, event_body("evt_a", SUCCEEDED, intent(key))), "evt_a")
    settled, money = payment(api.client, payment_id), balances(api.client)

    success_again = deliver(api.client, event_body("evt_b", SUCCEEDED, intent(key)))
    late_failure = deliver(api.client, event_body("evt_c", PAYMENT_FAILED, declined(key, "x")))

    assert result_of(success_again, "evt_b") == "SUCCESS"
    assert result_of(late_failure, "evt_c") == "SUCCESS"
    assert payment(api.client, payment_id) == settled
    assert balances(api.client) == money


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ({"code": "card_declined", "decline_code": "insufficient_funds"}, "INSUFFICIENT_FUNDS"),
        ({"code": "expired_card", "decline_code": "expired_card"}, "EXPIRED_CARD"),
        ({"code": "expired_card"}, "EXPIRED_CARD"),
        ({"code": "card_declined", "decline_code": "generic_decline"}, "CARD_DECLINED"),
        ({"code": "card_declined", "decline_code": "stolen_card"}, "CARD_DECLINED"),
        (None, "CARD_DECLINED"),
    ],
)
def test_a_payment_failed_event_fails_the_payment_with_the_mapped_reason(
    api: PaymentsApi, error: dict[str, str] | None, reason: str
) -> None:
    payment_id, key = pending_payment(api)
    obj = intent(key, status="requires_payment_method")
    if error is not None:
        obj["last_payment_error"] = {"type": "card_error", **error}

    response = deliver(api.client, event_body("evt_no", PAYMENT_FAILED, obj))

    assert result_of(response, "evt_no") == "FAILED"
    failed = payment(api.client, payment_id)
    assert (failed["status"], failed["failure_reason"], failed["retryable"]) == (
        "FAILED",
        reason,
        False,
    )
    assert (failed["transaction_id"], failed["captured"]) == (None, 0)
    assert balances(api.client) == {}  # a failure moves no money
    again = deliver(api.client, event_body("evt_no", PAYMENT_FAILED, obj))
    assert result_of(again, "evt_no") == "duplicate"


@pytest.mark.parametrize(
    ("code", "reason", "retryable"),
    [("processing_error", "PROCESSING_ERROR", True), ("incorrect_cvc", "INVALID_CARD", False)],
)
def test_a_payment_failed_event_maps_codes_like_the_stripe_adapter(
    api: PaymentsApi, code: str, reason: str, retryable: bool
) -> None:
    payment_id, key = pending_payment(api)
    response = deliver(api.client, event_body("evt_pe", PAYMENT_FAILED, declined(key, code)))
    assert result_of(response, "evt_pe") == "FAILED"
    failed = payment(api.client, payment_id)
    assert (failed["failure_reason"], failed["retryable"]) == (reason, retryable)


def test_an_event_for_an_earlier_attempt_does_not_settle_the_current_one(
    api: PaymentsApi,
) -> None:
    created = expect(api.client.post("/payments", json=card_payment()), 201)
    payment_id = created["id"]
    api.gateway.script(f"{payment_id}:1", fail("PROCESSING_ERROR"))
    assert api.advance(payment_id) == "FAILED"
    expect(api.client.post(f"/payments/{payment_id}/retry"), 200)
    api.gateway.script(f"{payment_id}:2", UNKNOWN)
    assert api.advance(payment_id) == "PROCESSING"
    before = payment(api.client, payment_id)

    stale = deliver(api.client, event_body("evt_old", SUCCEEDED, intent(f"{payment_id}:1")))

    assert result_of(stale, "evt_old") == "PROCESSING"
    assert payment(api.client, payment_id) == before
    assert balances(api.client) == {}
    current = deliver(api.client, event_body("evt_new", SUCCEEDED, intent(f"{payment_id}:2")))
    assert result_of(current, "evt_new") == "SUCCESS"
    assert payment(api.client, payment_id)["attempts"] == 2


# Refused deliveries.


def _tampered(client: TestClient[Any], payload: bytes) -> Any:
    header = sign_webhook(payload, SECRET)
    return deliver(client, payload.replace(b"pi_test_1", b"pi_test_2"), header=header)


def _appended(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload + b"\n", header=sign_webhook(payload, SECRET))


def _stale(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload, timestamp=int(time.time()) - TOLERANCE_S - 5)


def _from_the_future(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload, timestamp=int(time.time()) + TOLERANCE_S + 60)


def _wrong_secret(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload, secret="whsec_someone_else")


def _missing_header(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload, header="")


def _malformed_header(client: TestClient[Any], payload: bytes) -> Any:
    return deliver(client, payload, header="v1=deadbeef")


def _timestamp_swapped(client: TestClient[Any], payload: bytes) -> Any:
    old = sign_webhook(payload, SECRET, int(time.time()) - 3_600)
    return deliver(client, payload, header=f"t={int(time.time())},{old.split(',')[1]}")


REFUSED = [
    _tampered,
    _appended,
    _stale,
    _from_the_future,
    _wrong_secret,
    _missing_header,
    _malformed_header,
    _timestamp_swapped,
]


@pytest.mark.parametrize("send", REFUSED, ids=lambda send: send.__name__.strip("_"))
def test_an_unverifiable_delivery_is_a_400_that_changes_nothing(
    api: PaymentsApi, send: Any
) -> None:
    payment_id, key = pending_payment(api)
    payload = event_body("evt_forged", SUCCEEDED, intent(key))
    before, waiting = ledger_state(api.client), payment(api.client, payment_id)

    response = send(api.client, payload)

    expect_problem(response, 400, "invalid_signature")
    assert ledger_state(api.client) == before
    assert payment(api.client, payment_id) == waiting
    # Nothing was claimed either: the genuine delivery of that event still settles it.
    assert result_of(deliver(api.client, payload), "evt_forged") == "SUCCESS"


@pytest.mark.parametrize(
    "payload", [b"not json", b"[]", b'{"id": "evt_x", "type": "x"}', b'{"data": {"object": {}}}']
)
def test_a_signed_body_that_is_not_an_event_is_a_400(api: PaymentsApi, payload: bytes) -> None:
    before = ledger_state(api.client)
    expect_problem(deliver(api.client, payload), 400, "invalid_signature")
    assert ledger_state(api.client) == before


def test_without_a_secret_webhooks_are_not_configured_and_change_nothing() -> None:
    with payments_api() as api:  # PAYLEDGER_STRIPE_WEBHOOK_SECRET unset
        payment_id, key = pending_payment(api)
        before, waiting = ledger_state(api.client), payment(api.client, payment_id)
        payload = event_body("evt_unconfigured", SUCCEEDED, intent(key))

        for secret in (SECRET, "whsec_someone_else"):
            response = deliver(api.client, payload, secret=secret)
            expect_problem(response, 404, "webhooks_not_configured")
        unsigned = deliver(api.client, payload, header="")
        expect_problem(unsigned, 404, "webhooks_not_configured")

        assert ledger_state(api.client) == before
        assert payment(api.client, payment_id) == waiting


# Events that are not ours.


@pytest.mark.parametrize(
    "key",
    [
        f"{uuid4()}:1",  # a payment that does not exist
        "order-1042",
        "",
        None,  # no metadata at all
        f"charge:{uuid4()}",
        f"checkout:{uuid4()}",
    ],
)
def test_an_event_for_an_unknown_key_is_ignored(api: PaymentsApi, key: str | None) -> None:
    payment_id, _ = pending_payment(api)
    before, waiting = ledger_state(api.client), payment(api.client, payment_id)

    response = deliver(api.client, event_body("evt_other", SUCCEEDED, intent(key)))

    assert result_of(response, "evt_other") == "ignored"
    assert ledger_state(api.client) == before
    assert payment(api.client, payment_id) == waiting


@pytest.mark.parametrize(
    "event_type", ["payment_intent.created", "charge.refunded", "checkout.session.completed"]
)
def test_an_event_of_another_type_is_ignored(api: PaymentsApi, event_type: str) -> None:
    payment_id, key = pending_payment(api)
    before, waiting = ledger_state(api.client), payment(api.client, payment_id)

    response = deliver(api.client, event_body("evt_type", event_type, intent(key)))

    assert result_of(response, "evt_type") == "ignored"
    assert ledger_state(api.client) == before
    assert payment(api.client, payment_id) == waiting


# The real Stripe adapter against the fake Stripe server.


@dataclass
class StripeApi:
    client: TestClient[Any]
    settlement: PaymentSettlement
    fake: FakeStripe

    def advance(self, payment_id: str) -> str:
        return self.settlement.advance(UUID(payment_id))


@pytest.fixture
def stripe_api() -> Iterator[StripeApi]:
    """The production container with `gateway=stripe` pointed at a fake Stripe server,
    webhooks configured, and manual processing."""
    with running_fake_stripe() as fake:
        settings = memory_settings(
            gateway="stripe",
            stripe_api_key=API_KEY,
            stripe_api_base=fake.base_url,
            stripe_webhook_secret=SECRET,
        )
        container = build_container(settings, ManualProcessingProvider())
        with TestClient(create_app(container)) as client:
            client.headers.update(admin_headers(client))
            settlement = client.blocking_portal.call(container.get, PaymentSettlement)
            yield StripeApi(client, settlement, fake)


def test_a_payment_stripe_answered_with_a_500_is_settled_by_the_webhook(
    stripe_api: StripeApi,
) -> None:
    created = expect(stripe_api.client.post("/payments", json=card_payment()), 201)
    payment_id, key = created["id"], f"{created['id']}:1"
    stripe_api.fake.fail_next(1, 500)  # Stripe saves the 500 under the key and replays it

    assert stripe_api.advance(payment_id) == "PROCESSING"
    assert stripe_api.advance(payment_id) == "PROCESSING"  # asked again: the same 500
    assert stripe_api.fake.executions(key) == 1
    assert stripe_api.fake.requests("/v1/payment_intents") == 2

    response = deliver(stripe_api.client, event_body("evt_500", SUCCEEDED, intent(key, "pi_x")))

    assert result_of(response, "evt_500") == "SUCCESS"
    settled = payment(stripe_api.client, payment_id)
    assert (settled["status"], settled["captured"]) == ("SUCCESS", AMOUNT)
    assert postings(stripe_api.client, settled["transaction_id"]) == {
        "system:gateway_clearing": -AMOUNT,
        "payable:shop": AMOUNT,
    }
    assert stripe_api.fake.executions(key) == 1  # charged once, whatever happened


def test_stripes_own_event_for_a_payment_settled_at_once_changes_nothing(
    stripe_api: StripeApi,
) -> None:
    created = expect(stripe_api.client.post("/payments", json=card_payment()), 201)
    payment_id, key = created["id"], f"{created['id']}:1"
    assert stripe_api.advance(payment_id) == "SUCCESS"
    [intent_id] = stripe_api.fake.payment_intent_ids()
    stripe_intent = stripe_api.fake.payment_intent(intent_id)
    assert stripe_intent["metadata"] == {"idempotency_key": key}  # what the webhook matches on
    settled, money = payment(stripe_api.client, payment_id), balances(stripe_api.client)

    response = deliver(stripe_api.client, event_body("evt_sync", SUCCEEDED, stripe_intent))

    assert result_of(response, "evt_sync") == "SUCCESS"
    assert payment(stripe_api.client, payment_id) == settled
    assert balances(stripe_api.client) == money


def test_a_card_stripe_declines_fails_at_once_and_a_late_event_changes_nothing(
    stripe_api: StripeApi,
) -> None:
    body = card_payment(PROCESSING_ERROR_CARD)
    created = expect(stripe_api.client.post("/payments", json=body), 201)
    payment_id, key = created["id"], f"{created['id']}:1"
    assert stripe_api.advance(payment_id) == "FAILED"
    failed = payment(stripe_api.client, payment_id)
    assert (failed["failure_reason"], failed["retryable"]) == ("PROCESSING_ERROR", True)

    response = deliver(stripe_api.client, event_body("evt_late", SUCCEEDED, intent(key)))

    assert result_of(response, "evt_late") == "FAILED"
    assert payment(stripe_api.client, payment_id) == failed
    assert balances(stripe_api.client) == {}
