"""Hosted checkout with Stripe as the gateway, against the local fake Stripe server: the
session carries our attempt key, the success page retrieves the Checkout Session, the cancel
page expires it, and Stripe's `checkout.session.*` webhooks settle the payment too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import (
    PROBLEM_CONTENT_TYPE,
    expect,
    ledger_state,
    memory_settings,
    running_client,
)
from tests.support.fake_stripe import (
    API_KEY,
    FakeStripe,
    running_fake_stripe,
    sign_webhook,
    stripe_event,
)

pytestmark = pytest.mark.integration

BASE_URL = "http://testserver.local"
SECRET = "whsec_checkout_test"
Json = Any


@pytest.fixture
def stripe() -> Iterator[tuple[TestClient[Any], FakeStripe]]:
    with running_fake_stripe() as fake:
        settings = memory_settings(
            public_url=BASE_URL,
            gateway="stripe",
            stripe_api_key=API_KEY,
            stripe_api_base=fake.base_url,
            stripe_webhook_secret=SECRET,
        )
        with running_client(settings) as client:
            yield client, fake


def start(client: TestClient[Any], fake: FakeStripe, price: int = 5_000) -> tuple[str, str]:
    """Start a checkout; (our payment id, Stripe's session id)."""
    response = client.get("/checkout", params={"price": price}, follow_redirects=False)
    assert response.status_code == 303, response.text
    session_id = response.headers["location"].rsplit("/", 1)[-1]
    session = fake.checkout_session(session_id)
    [payment_id] = parse_qs(urlsplit(session["success_url"]).query)["payment"]
    return payment_id, session_id


def deliver(client: TestClient[Any], event_id: str, kind: str, session: Json) -> str:
    payload = stripe_event(event_id, kind, session)
    headers = {
        "content-type": "application/json",
        "stripe-signature": sign_webhook(payload, SECRET),
    }
    result: str = expect(client.post("/webhooks/stripe", content=payload, headers=headers), 200)[
        "result"
    ]
    return result


def payment(client: TestClient[Any], payment_id: str) -> Json:
    return expect(client.get(f"/payments/{payment_id}"), 200)


def test_the_session_names_our_attempt_and_leads_back_to_our_payment(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake)
    session = fake.checkout_session(session_id)
    key = f"{payment_id}:1"
    assert session["metadata"] == {"idempotency_key": key}
    assert session["intent_metadata"] == {"idempotency_key": key}
    assert session["success_url"] == f"{BASE_URL}/checkout/success?payment={payment_id}"
    assert session["cancel_url"] == f"{BASE_URL}/checkout/cancel?payment={payment_id}"
    assert fake.executions(key) == 1
    found = payment(client, payment_id)
    assert (found["status"], found["method"], found["amount"]) == ("PROCESSING", "checkout", 5_000)


def test_the_success_page_retrieves_the_session_and_shows_the_real_state(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake)
    success = {"payment": payment_id}

    before = client.get("/checkout/success", params=success)
    assert "Confirming your payment" in before.text
    assert fake.requests(f"GET /v1/checkout/sessions/{session_id}") >= 1

    fake.complete_checkout(session_id)
    after = client.get("/checkout/success", params=success)

    assert "Payment received" in after.text
    found = payment(client, payment_id)
    assert (found["status"], found["captured"]) == ("SUCCESS", 5_000)


def test_the_cancel_page_expires_the_session_then_records_it_cancelled(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake)

    shown = client.get("/checkout/cancel", params={"payment": payment_id})

    assert "Payment cancelled" in shown.text
    assert fake.checkout_session(session_id)["status"] == "expired"
    assert fake.requests(f"/v1/checkout/sessions/{session_id}/expire") == 1
    found = payment(client, payment_id)
    assert (found["status"], found["failure_reason"]) == ("FAILED", "CHECKOUT_CANCELLED")


def test_a_cancel_after_the_payer_paid_at_stripe_records_the_payment(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake)
    fake.complete_checkout(session_id)

    shown = client.get("/checkout/cancel", params={"payment": payment_id})

    assert "Payment received" in shown.text
    assert payment(client, payment_id)["status"] == "SUCCESS"


def test_the_completed_webhook_settles_the_checkout_once(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake, 2_500)
    session = fake.complete_checkout(session_id)

    assert deliver(client, "evt_cs_1", "checkout.session.completed", session) == "SUCCESS"
    settled = payment(client, payment_id)
    assert deliver(client, "evt_cs_1", "checkout.session.completed", session) == "duplicate"
    assert payment(client, payment_id) == settled
    assert settled["captured"] == 2_500


def test_the_expired_webhook_fails_the_checkout(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    payment_id, session_id = start(client, fake)
    session = {**fake.checkout_session(session_id), "status": "expired"}

    assert deliver(client, "evt_cs_2", "checkout.session.expired", session) == "FAILED"
    found = payment(client, payment_id)
    assert (found["status"], found["failure_reason"]) == ("FAILED", "CHECKOUT_EXPIRED")
    shown = client.get("/checkout/success", params={"payment": payment_id})
    assert "Payment failed" in shown.text
    assert "went through" not in shown.text


def test_a_completed_session_still_unpaid_settles_nothing(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    """A delayed payment method: complete, but not paid yet; `async_payment_*` settles it."""
    client, fake = stripe
    payment_id, session_id = start(client, fake)
    session = {**fake.checkout_session(session_id), "status": "complete"}
    assert deliver(client, "evt_cs_3", "checkout.session.completed", session) == "ignored"
    assert payment(client, payment_id)["status"] == "PROCESSING"
    paid = {**session, "payment_intent": "pi_later"}
    assert deliver(client, "evt_cs_4", "checkout.session.async_payment_succeeded", paid) == (
        "SUCCESS"
    )


def test_checkout_redirects_to_stripes_hosted_page(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    response = client.get("/checkout", params={"price": 5_000}, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("https://checkout.stripe.test/c/pay/cs_test_fake_"), location
    assert fake.requests("/v1/checkout/sessions") == 1


def test_with_stripe_down_checkout_is_a_bad_gateway_problem_and_records_nothing(
    stripe: tuple[TestClient[Any], FakeStripe],
) -> None:
    client, fake = stripe
    before = ledger_state(client)
    fake.fail_next(1, 500)
    response = client.get("/checkout", params={"price": 5_000}, follow_redirects=False)
    assert response.status_code == 502, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    assert ledger_state(client) == before
    assert expect(client.get("/payments"), 200)["payments"] == []
