"""The seed apps' own requests over HTTP (issue 7): seed 001's payments, refunds and summary,
seed 003's wallets; and what the OpenAPI document says of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import (
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    running_client,
)
from tests.support.fake_stripe import API_KEY, running_fake_stripe
from tests.support.seeds import SEED_001_BODY, SEED_001_PAYMENT_KEYS

pytestmark = pytest.mark.integration

SETTLE_TIMEOUT_S = 5.0


def settled(client: TestClient[Any], payment_id: str) -> Any:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found = expect(client.get(f"/payments/{payment_id}"), 200)
        if found["status"] not in ("CREATED", "PROCESSING"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.01)


@pytest.fixture
def always_paid() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(failure_rate=0)) as client:
        yield client


@pytest.fixture
def never_paid() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(failure_rate=1, max_retries=2)) as client:
        yield client


# Seed 001: payments.


def test_seed_001s_request_is_a_legacy_payment_that_settles(always_paid: TestClient[Any]) -> None:
    response = always_paid.post("/payments", json=SEED_001_BODY)

    created = expect(response, 201)
    assert set(created) >= SEED_001_PAYMENT_KEYS
    assert created["payment_id"] == created["id"]
    assert (created["status"], created["method"], created["card"]) == ("CREATED", "legacy", None)
    paid = settled(always_paid, created["id"])
    assert (paid["status"], paid["failure_reason"], paid["payment_id"]) == (
        "SUCCESS",
        None,
        created["id"],
    )
    assert [step["status"] for step in paid["history"]] == ["CREATED", "PROCESSING", "SUCCESS"]


def test_a_legacy_processing_error_is_retried_up_to_the_limit(never_paid: TestClient[Any]) -> None:
    created = expect(never_paid.post("/payments", json=SEED_001_BODY), 201)
    failed = settled(never_paid, created["id"])
    assert (failed["status"], failed["failure_reason"], failed["retryable"]) == (
        "FAILED",
        "PROCESSING_ERROR",
        True,
    )
    for attempt in (2, 3):
        retried = expect(never_paid.post(f"/payments/{created['id']}/retry"), 200)
        assert (retried["status"], retried["attempts"], retried["payment_id"]) == (
            "PROCESSING",
            attempt,
            created["id"],
        )
        assert settled(never_paid, created["id"])["failure_reason"] == "PROCESSING_ERROR"
    refused = never_paid.post(f"/payments/{created['id']}/retry")
    expect_problem(refused, 409, "retry_limit_reached")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": 0}, "INVALID_AMOUNT"),
        ({"amount": 1_000_001}, "FRAUD_SUSPECTED"),
        ({"currency": ""}, "INVALID_REQUEST"),
        ({"currency": "XYZ"}, "INVALID_REQUEST"),
        ({"recipient": ""}, "INVALID_REQUEST"),
    ],
)
def test_seed_001s_rules_still_come_first(
    always_paid: TestClient[Any], changes: dict[str, Any], reason: str
) -> None:
    created = expect(always_paid.post("/payments", json={**SEED_001_BODY, **changes}), 201)
    assert (created["status"], created["failure_reason"]) == ("FAILED", reason)


def test_a_float_amount_is_refused_with_a_hint_about_minor_units(
    always_paid: TestClient[Any],
) -> None:
    before = ledger_state(always_paid)
    response = always_paid.post("/payments", json={**SEED_001_BODY, "amount": 250.00})
    problem = expect_problem(response, 422, "validation_error")
    assert "25000" in problem["detail"]
    assert problem["errors"][0]["path"] == "$.amount"
    assert ledger_state(always_paid) == before


def test_a_legacy_payment_with_a_card_is_refused(always_paid: TestClient[Any]) -> None:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}
    response = always_paid.post("/payments", json={**SEED_001_BODY, "card": card})
    expect_problem(response, 422, "invalid_payment_method")


def test_legacy_payments_go_to_the_simulated_processor_even_with_stripe_as_card_gateway() -> None:
    with running_fake_stripe() as stripe:
        settings = memory_settings(
            gateway="stripe",
            stripe_api_key=API_KEY,
            stripe_api_base=stripe.base_url,
            failure_rate=0,
        )
        with running_client(settings) as client:
            created = expect(client.post("/payments", json=SEED_001_BODY), 201)
            assert settled(client, created["id"])["status"] == "SUCCESS"
            refunded = expect(client.post(f"/payments/{created['id']}/refund"), 201)
            assert refunded["status"] == "REFUNDED"
        assert stripe.requests("/v1/payment_intents") == 0
        assert stripe.requests("/v1/refunds") == 0


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {}),
        (b"", {"content-type": "application/json"}),
        (b"{}", {"content-type": "application/json"}),
    ],
    ids=["no body", "empty JSON body", "empty object"],
)
def test_a_refund_without_an_amount_refunds_all_that_is_left(
    always_paid: TestClient[Any], content: bytes, headers: dict[str, str]
) -> None:
    created = expect(always_paid.post("/payments", json=SEED_001_BODY), 201)
    settled(always_paid, created["id"])

    response = always_paid.post(
        f"/payments/{created['id']}/refund", content=content, headers=headers
    )

    refunded = expect(response, 201)
    assert (refunded["status"], refunded["refunded"], refunded["refundable"]) == (
        "REFUNDED",
        25_000,
        0,
    )
    assert refunded["payment_id"] == created["id"]


def test_the_openapi_document_says_the_refund_body_is_optional(
    always_paid: TestClient[Any],
) -> None:
    spec = expect(always_paid.get("/openapi.json"), 200)
    refund = spec["paths"]["/payments/{payment_id}/refund"]["post"]
    assert refund["requestBody"]["required"] is False
    create = spec["components"]["schemas"]["PaymentCreate"]
    assert "method" not in create.get("required", [])
    assert create["properties"]["method"]["default"] == "legacy"
    assert "payment_id" in spec["components"]["schemas"]["Payment"]["required"]


# Seed 003: wallets.


def test_a_wallet_opened_without_a_currency_takes_the_configured_default() -> None:
    with running_client() as client:
        usd = expect(client.post("/wallets", json={"customer_id": "alice"}), 201)
        assert usd["currency"] == "USD"
    with running_client(memory_settings(default_currency="EUR")) as client:
        response = client.post("/wallets", json={"customer_id": "alice"})
        assert expect(response, 201)["currency"] == "EUR"
        assert response.headers["location"] == "/wallets/alice?currency=EUR"


def test_a_customers_wallets_show_each_write_at_once_with_the_read_model_stopped() -> None:
    settings = memory_settings(projections_in_process=False, view_wait_timeout_s=0.05)
    with running_client(settings) as client:
        opened = expect(client.post("/wallets", json={"customer_id": "bob"}), 201)
        listed = expect(client.get("/wallets/bob"), 200)
        assert listed == {"customer_id": "bob", "wallets": [opened]}

        credit = {"amount": 5_000, "currency": "USD"}
        expect(client.post("/wallets/bob/credit", json=credit), 201)
        listed = expect(client.get("/wallets/bob"), 200)
        assert [w["balance"] for w in listed["wallets"]] == [5_000]

        one = expect(client.get("/wallets/bob", params={"currency": "USD"}), 200)
        assert one == listed["wallets"][0]
        # Lists from the read model still honour min_position (and it never moves here).
        position = expect(client.get("/ready"), 200)["log_position"]
        stale = client.get("/balances", params={"min_position": position})
        expect_problem(stale, 503, "view_not_caught_up")


def test_a_statement_without_a_currency_is_of_the_default_one() -> None:
    with running_client(memory_settings(default_currency="EUR")) as client:
        expect(client.post("/wallets", json={"customer_id": "dan"}), 201)
        credit = client.post("/wallets/dan/credit", json={"amount": 700, "currency": "EUR"})
        expect(credit, 201)
        params = {"min_position": credit.headers["PayLedger-Position"]}
        statement = expect(client.get("/wallets/dan/ledger", params=params), 200)
        assert statement["currency"] == "EUR"
        assert [entry["amount"] for entry in statement["entries"]] == [700]


def test_the_openapi_document_describes_both_shapes_of_a_customers_wallets(
    always_paid: TestClient[Any],
) -> None:
    spec = expect(always_paid.get("/openapi.json"), 200)
    operation = spec["paths"]["/wallets/{customer_id}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    shapes = {option["$ref"].rsplit("/", 1)[-1] for option in schema["oneOf"]}
    assert shapes == {"Wallet", "CustomerWallets"}
    currency = next(p for p in operation["parameters"] if p["name"] == "currency")
    assert "one wallet" in currency["description"].lower()
    wallet_create = spec["components"]["schemas"]["WalletCreate"]
    assert wallet_create["required"] == ["customer_id"]
