"""GET /summary (seed 001): counts by outcome and failure reason, in the seed's shape, plus
counts by status and amounts per currency, from the payments read model."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.http.payments_support import PaymentsApi, payments_api
from tests.integration.http.support import (
    POSITION_HEADER,
    credit,
    expect,
    expect_problem,
    memory_settings,
    open_wallet,
)
from tests.unit.application.payment_fakes import DECLINED_CARD, GOOD_CARD

pytestmark = pytest.mark.integration

STATUSES = ["CREATED", "PROCESSING", "SUCCESS", "FAILED", "PARTIALLY_REFUNDED", "REFUNDED"]
SEED_KEYS = {"total", "success", "failed", "refunded", "failure_reasons"}


@pytest.fixture
def api() -> Any:
    """Alice has 1000.00 USD and 1000 EUR in wallets."""
    with payments_api() as api:
        for currency in ("USD", "EUR"):
            open_wallet(api.client, "alice", currency)
            credit(api.client, "alice", 100_000, currency)
        yield api


def pay(api: PaymentsApi, amount: int, currency: str = "USD", **fields: Any) -> Any:
    body = {
        "amount": amount,
        "currency": currency,
        "recipient": "shop",
        "payer_id": "alice",
        "method": "wallet",
        **fields,
    }
    return expect(api.client.post("/payments", json=body), 201)


def pay_by_card(api: PaymentsApi, amount: int, number: str = GOOD_CARD) -> Any:
    card = {"number": number, "exp_month": 12, "exp_year": 2030}
    body = {"amount": amount, "currency": "USD", "recipient": "shop", "method": "card"}
    return expect(api.client.post("/payments", json={**body, "card": card}), 201)


def summary(api: PaymentsApi) -> Any:
    position = api.position()
    return expect(api.client.get("/summary", params={"min_position": position}), 200)


def test_an_empty_summary_has_every_status_at_zero(api: PaymentsApi) -> None:
    assert summary(api) == {
        "total": 0,
        "success": 0,
        "failed": 0,
        "refunded": 0,
        "failure_reasons": {},
        "by_status": dict.fromkeys(STATUSES, 0),
        "amounts": [],
    }


def test_the_summary_counts_outcomes_reasons_and_amounts(api: PaymentsApi) -> None:
    captured = pay(api, 10_000)
    partly = pay(api, 4_000, "EUR")
    refunded = pay_by_card(api, 3_000)
    for payment in (captured, partly, refunded):
        assert api.advance(payment["id"]) == "SUCCESS"
    refund = api.client.post(f"/payments/{partly['id']}/refund", json={"amount": 1_000})
    expect(refund, 201)
    expect(api.client.post(f"/payments/{refunded['id']}/refund", json={}), 201)
    declined = pay_by_card(api, 700, DECLINED_CARD)
    assert api.advance(declined["id"]) == "FAILED"
    pay(api, 0)  # INVALID_AMOUNT
    pay(api, -5)  # INVALID_AMOUNT
    pay_by_card(api, 1_000_001)  # FRAUD_SUSPECTED
    pay(api, 100, recipient="")  # INVALID_REQUEST
    pending = pay(api, 200)  # CREATED, not processed yet

    result = summary(api)
    assert set(result) == SEED_KEYS | {"by_status", "amounts"}
    assert (result["total"], result["success"], result["failed"], result["refunded"]) == (
        9,
        2,  # SUCCESS and PARTIALLY_REFUNDED: the money went through
        5,
        1,
    )
    # Most frequent first, then by name.
    assert list(result["failure_reasons"].items()) == [
        ("INVALID_AMOUNT", 2),
        ("CARD_DECLINED", 1),
        ("FRAUD_SUSPECTED", 1),
        ("INVALID_REQUEST", 1),
    ]
    assert result["by_status"] == {
        "CREATED": 1,
        "PROCESSING": 0,
        "SUCCESS": 1,
        "FAILED": 5,
        "PARTIALLY_REFUNDED": 1,
        "REFUNDED": 1,
    }
    eur, usd = result["amounts"]
    assert (eur["currency"], eur["captured"], eur["refunded"]) == ("EUR", 4_000, 1_000)
    assert eur["by_status"]["PARTIALLY_REFUNDED"] == 4_000
    assert (usd["currency"], usd["captured"], usd["refunded"]) == ("USD", 13_000, 3_000)
    assert usd["by_status"]["SUCCESS"] == 10_000
    assert usd["by_status"]["REFUNDED"] == 3_000
    assert usd["by_status"]["CREATED"] == pending["amount"]
    assert usd["by_status"]["FAILED"] == 700 + 0 - 5 + 1_000_001 + 100

    # The list agrees with the summary, status by status.
    for status, count in result["by_status"].items():
        params = {"status": status, "limit": 200}
        rows = expect(api.client.get("/payments", params=params), 200)["payments"]
        assert len(rows) == count, status


def test_a_payment_is_counted_as_soon_as_its_position_is_asked_for(api: PaymentsApi) -> None:
    response = api.client.post(
        "/payments",
        json={"amount": 0, "currency": "USD", "recipient": "shop", "method": "wallet"},
    )
    expect(response, 201)
    params = {"min_position": response.headers[POSITION_HEADER]}
    result = expect(api.client.get("/summary", params=params), 200)
    assert (result["total"], result["failure_reasons"]) == (1, {"INVALID_AMOUNT": 1})


def test_the_summary_answers_503_while_the_view_is_behind_the_position_asked_for() -> None:
    settings = memory_settings(view_wait_timeout_s=0.05, projections_in_process=False)
    with payments_api(settings) as api:
        written = api.client.post("/wallets", json={"customer_id": "late", "currency": "USD"})
        position = written.headers[POSITION_HEADER]
        response = api.client.get("/summary", params={"min_position": position})
        expect_problem(response, 503, "view_not_caught_up")
        assert response.headers["retry-after"] == "1"


def test_the_summary_refuses_a_position_beyond_the_log_at_once() -> None:
    with payments_api(memory_settings(view_wait_timeout_s=5)) as api:
        started = time.monotonic()
        response = api.client.get("/summary", params={"min_position": 10**9})
        expect_problem(response, 422, "position_beyond_log")
        assert time.monotonic() - started < 1


@pytest.mark.parametrize("position", ["-1", "x", str(2**63)])
def test_a_bad_min_position_is_a_validation_problem(api: PaymentsApi, position: str) -> None:
    response = api.client.get("/summary", params={"min_position": position})
    expect_problem(response, 422, "validation_error")


def test_amounts_are_shown_for_iso_currencies_only_while_counts_keep_every_payment(
    api: PaymentsApi,
) -> None:
    good = pay(api, 1_000)
    assert api.advance(good["id"]) == "SUCCESS"
    for currency in ("", "XYZ"):
        junk = pay(api, 500, currency)
        assert (junk["status"], junk["failure_reason"]) == ("FAILED", "INVALID_REQUEST")

    result = summary(api)

    assert [row["currency"] for row in result["amounts"]] == ["USD"]
    assert result["amounts"][0]["by_status"]["FAILED"] == 0
    assert (result["total"], result["failed"]) == (3, 2)
    assert result["by_status"]["FAILED"] == 2
    assert result["failure_reasons"] == {"INVALID_REQUEST": 2}
