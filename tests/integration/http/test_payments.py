"""The payments API (seed 001) over HTTP: every route and rule. Broken rules are recorded as
FAILED payments with a reason; malformed requests and refused changes record nothing."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from uuid import uuid4

import pytest

from application.idempotency import command_id
from domain.payment_terms import PaymentStatus as Status
from entrypoints.http.params import PaymentStatus
from tests.integration.http.payments_support import PaymentsApi, payment, payments_api
from tests.integration.http.support import (
    POSITION_HEADER,
    REPLAYED_HEADER,
    credit,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    open_wallet,
    scope_of,
    wallet,
)
from tests.unit.application.payment_fakes import (
    BAD_NUMBER_CARD,
    DECLINED_CARD,
    GOOD_CARD,
    PROCESSING_ERROR_CARD,
    SUCCEED,
    UNKNOWN,
    fail,
)

pytestmark = pytest.mark.integration

ALICE_BALANCE = 100_000  # 1000.00 USD
RETRIES_MAX = 2


@pytest.fixture
def api() -> Any:
    """Alice has a USD wallet holding ALICE_BALANCE; at most RETRIES_MAX retries."""
    with payments_api(memory_settings(max_retries=RETRIES_MAX)) as api:
        open_wallet(api.client, "alice")
        credit(api.client, "alice", ALICE_BALANCE)
        yield api


def wallet_payment(**fields: Any) -> dict[str, Any]:
    return {
        "amount": 2_500,
        "currency": "USD",
        "recipient": "shop",
        "payer_id": "alice",
        "method": "wallet",
        **fields,
    }


def card_payment(number: str = GOOD_CARD, **fields: Any) -> dict[str, Any]:
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return {
        "amount": 5_000,
        "currency": "USD",
        "recipient": "shop",
        "method": "card",
        "card": card,
        **fields,
    }


def create(api: PaymentsApi, body: Any, key: str | None = None, **params: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    response = api.client.post("/payments", json=body, headers=headers, params=params)
    created = expect(response, 201)
    assert response.headers["location"] == f"/payments/{created['id']}"
    assert response.headers[POSITION_HEADER].isdigit()
    return created


def succeeded(api: PaymentsApi, body: Any) -> Any:
    """A payment created and processed to SUCCESS."""
    created = create(api, body)
    assert api.advance(created["id"]) == "SUCCESS"
    return payment(api, created["id"])


def steps(body: Any) -> list[tuple[str, str]]:
    return [(step["status"], step["reason"]) for step in body["history"]]


# Creating and processing.


def test_a_wallet_payment_is_created_then_processed_to_success(api: PaymentsApi) -> None:
    created = create(api, wallet_payment(description="Invoice #1042"))
    assert created["status"] == "CREATED"
    assert (created["amount"], created["currency"], created["recipient"]) == (2_500, "USD", "shop")
    assert created["failure_reason"] is None
    assert payment(api, created["id"]) == created
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE

    assert api.advance(created["id"]) == "SUCCESS"

    done = payment(api, created["id"])
    assert done["status"] == "SUCCESS"
    assert steps(done) == [
        ("CREATED", "requested"),
        ("PROCESSING", "accepted"),
        ("SUCCESS", "captured"),
    ]
    assert [step["at"] for step in done["history"]] == sorted(s["at"] for s in done["history"])
    assert (done["captured"], done["refundable"], done["attempts"]) == (2_500, 2_500, 1)
    assert done["allocations"] == [{"payee": "shop", "amount": 2_500}]
    assert done["transaction_id"] is not None
    assert done["description"] == "Invoice #1042"
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE - 2_500


def test_wait_true_answers_with_the_payment_once_processing_settled_it(
    api: PaymentsApi,
) -> None:
    advancing = api.advance_later("wait-1", delay_s=0.05)
    started = time.monotonic()
    done = create(api, wallet_payment(), key="wait-1", wait="true")
    advancing.join(5)
    assert time.monotonic() - started >= 0.05
    assert done["status"] == "SUCCESS"
    assert steps(done)[-1] == ("SUCCESS", "captured")
    assert done == payment(api, done["id"])


def test_wait_true_with_the_in_process_processor_needs_no_help() -> None:
    with payments_api(processing=True) as api:
        open_wallet(api.client, "alice")
        credit(api.client, "alice", ALICE_BALANCE)
        done = create(api, wallet_payment(), wait="true", wait_timeout_s="10")
        declined = create(api, card_payment(DECLINED_CARD), wait="true", wait_timeout_s="10")
    assert done["status"] == "SUCCESS"
    assert (declined["status"], declined["failure_reason"]) == ("FAILED", "CARD_DECLINED")


def test_wait_true_gives_up_after_its_timeout_with_the_latest_state(api: PaymentsApi) -> None:
    started = time.monotonic()
    created = create(api, wallet_payment(), wait="true", wait_timeout_s="0.2")
    elapsed = time.monotonic() - started
    assert created["status"] == "CREATED"
    assert 0.2 <= elapsed < 5, elapsed


def test_wait_true_answers_at_once_for_a_payment_that_broke_a_rule(api: PaymentsApi) -> None:
    started = time.monotonic()
    created = create(api, wallet_payment(amount=0), wait="true", wait_timeout_s="10")
    assert time.monotonic() - started < 5
    assert (created["status"], created["failure_reason"]) == ("FAILED", "INVALID_AMOUNT")


@pytest.mark.parametrize("timeout", ["30.5", "-1", "soon"])
def test_a_bad_wait_timeout_is_a_validation_problem_that_records_nothing(
    api: PaymentsApi, timeout: str
) -> None:
    before = ledger_state(api.client)
    response = api.client.post(
        "/payments", json=wallet_payment(), params={"wait": "true", "wait_timeout_s": timeout}
    )
    expect_problem(response, 422, "validation_error")
    assert ledger_state(api.client) == before


# The failure rules: recorded, never refused.

FRAUD_THRESHOLD_USD = 1_000_000  # 10000.00 USD is still allowed; one cent more is not

RULE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("zero amount", wallet_payment(amount=0), "INVALID_AMOUNT"),
    ("negative amount", wallet_payment(amount=-500), "INVALID_AMOUNT"),
    ("most negative amount", wallet_payment(amount=-(10**15)), "INVALID_AMOUNT"),
    ("above the fraud threshold", card_payment(amount=FRAUD_THRESHOLD_USD + 1), "FRAUD_SUSPECTED"),
    ("largest amount", card_payment(amount=10**15), "FRAUD_SUSPECTED"),
    ("fraud in yen", card_payment(amount=10_001, currency="JPY"), "FRAUD_SUSPECTED"),
    ("empty currency", wallet_payment(currency=""), "INVALID_REQUEST"),
    ("unknown currency", wallet_payment(currency="XXX"), "INVALID_REQUEST"),
    ("empty recipient", wallet_payment(recipient=""), "INVALID_REQUEST"),
    ("wallet without a payer", wallet_payment(payer_id=""), "INVALID_REQUEST"),
    ("payer without a wallet", wallet_payment(payer_id="nobody"), "INVALID_REQUEST"),
    ("payer without that currency", wallet_payment(currency="EUR"), "INVALID_REQUEST"),
    ("card payment without a card", card_payment(card=None), "INVALID_REQUEST"),
    ("card number failing Luhn", card_payment(BAD_NUMBER_CARD), "INVALID_CARD"),
    (
        "expired card",
        card_payment(card={"number": GOOD_CARD, "exp_month": 1, "exp_year": 2020}),
        "EXPIRED_CARD",
    ),
]


@pytest.mark.parametrize(
    ("body", "reason"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_a_request_breaking_a_rule_is_recorded_as_failed_with_the_reason(
    api: PaymentsApi, body: dict[str, Any], reason: str
) -> None:
    before = wallet(api.client, "alice")
    failed = create(api, body)
    assert (failed["status"], failed["failure_reason"]) == ("FAILED", reason)
    assert steps(failed) == [("CREATED", "requested"), ("FAILED", reason)]
    assert (failed["retryable"], failed["attempts"], failed["captured"]) == (False, 0, 0)
    assert payment(api, failed["id"]) == failed
    # Processing leaves it alone; nothing was charged or debited; it cannot be retried.
    assert api.advance(failed["id"]) == "FAILED"
    assert api.gateway.charge_calls == []
    assert wallet(api.client, "alice") == before
    retry = api.client.post(f"/payments/{failed['id']}/retry")
    expect_problem(retry, 409, "payment_not_retryable")
    assert payment(api, failed["id"]) == failed


def test_exactly_the_fraud_threshold_is_not_fraud(api: PaymentsApi) -> None:
    created = create(api, card_payment(amount=FRAUD_THRESHOLD_USD))
    assert created["status"] == "CREATED"
    assert api.advance(created["id"]) == "SUCCESS"


def test_a_wallet_payment_beyond_the_balance_fails_when_processed(api: PaymentsApi) -> None:
    created = create(api, wallet_payment(amount=ALICE_BALANCE + 1))
    assert created["status"] == "CREATED"
    assert api.advance(created["id"]) == "FAILED"
    failed = payment(api, created["id"])
    assert (failed["failure_reason"], failed["retryable"]) == ("INSUFFICIENT_FUNDS", False)
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE


# Malformed requests: problems, and nothing recorded.


def _card_with(**fields: Any) -> dict[str, Any]:
    return {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2030, **fields}


BAD_BODIES: list[tuple[str, Any, int]] = [
    ("string amount", wallet_payment(amount="2500"), 422),
    ("float amount", wallet_payment(amount=25.0), 422),
    ("amount above the limit", wallet_payment(amount=10**15 + 1), 422),
    ("amount below the limit", wallet_payment(amount=-(10**15) - 1), 422),
    ("missing amount", {k: v for k, v in wallet_payment().items() if k != "amount"}, 422),
    ("missing recipient", {k: v for k, v in wallet_payment().items() if k != "recipient"}, 422),
    ("unknown method", wallet_payment(method="cash"), 422),
    ("unknown field", wallet_payment(tip=5), 422),
    ("null currency", wallet_payment(currency=None), 422),
    ("card number as a number", card_payment(card=_card_with(number=4242424242424242)), 422),
    ("card month 13", card_payment(card=_card_with(exp_month=13)), 422),
    ("unknown card field", card_payment(card=_card_with(name="A")), 422),
    ("splits not a list", wallet_payment(splits={"payee": "x"}), 422),
    (
        "too many splits",
        wallet_payment(splits=[{"payee": f"p{i}", "bps": 1} for i in range(17)]),
        422,
    ),
    ("recipient with NUL", wallet_payment(recipient="a\x00b"), 422),
    ("a list", [wallet_payment()], 422),
]


@pytest.mark.parametrize(
    ("body", "status"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_a_malformed_payment_is_a_problem_that_records_nothing(
    api: PaymentsApi, body: Any, status: int
) -> None:
    before = ledger_state(api.client)
    response = api.client.post("/payments", json=body, headers={"Idempotency-Key": "bad-1"})
    expect_problem(response, status, "validation_error")
    assert ledger_state(api.client) == before
    # The key was not used up: a good request with it goes through.
    assert create(api, wallet_payment(), key="bad-1")["status"] == "CREATED"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b"amount=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_an_unreadable_payment_body_is_a_problem_that_records_nothing(
    api: PaymentsApi, content: bytes, content_type: str, status: int, code: str
) -> None:
    before = ledger_state(api.client)
    response = api.client.post("/payments", content=content, headers={"content-type": content_type})
    expect_problem(response, status, code)
    assert ledger_state(api.client) == before


def test_invalid_splits_are_a_problem_that_records_nothing(api: PaymentsApi) -> None:
    before = ledger_state(api.client)
    for splits in (
        [{"payee": "a", "bps": 9_000}],
        [{"payee": "a", "bps": 5_000, "amount": 100}],
        [{"payee": "a", "bps": 5_000}, {"payee": "a", "bps": 5_000}],
        [{"payee": "a", "amount": 2_501}],
    ):
        response = api.client.post("/payments", json=wallet_payment(splits=splits))
        expect_problem(response, 422, "invalid_split")
    assert ledger_state(api.client) == before


def test_splits_divide_the_capture_between_payees(api: PaymentsApi) -> None:
    splits = [{"payee": "school", "bps": 9_000}, {"payee": "platform", "bps": 1_000}]
    done = succeeded(api, wallet_payment(amount=2_501, splits=splits))
    assert done["splits"] == [
        {"payee": "school", "bps": 9_000, "amount": None},
        {"payee": "platform", "bps": 1_000, "amount": None},
    ]
    assert done["allocations"] == [
        {"payee": "school", "amount": 2_251},
        {"payee": "platform", "amount": 250},
    ]


# Cards.


def test_a_card_payment_shows_only_the_brand_and_last_four_digits(
    api: PaymentsApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = api.client.post("/payments", json=card_payment())
    malformed = api.client.post("/payments", json=card_payment(card=_card_with(cvc="1" * 9)))
    rejected = api.client.post("/payments", json=card_payment(BAD_NUMBER_CARD))
    expect_problem(malformed, 422, "validation_error")
    body = expect(created, 201)
    assert body["card"] == {"brand": "visa", "last4": GOOD_CARD[-4:]}
    assert expect(rejected, 201)["card"] == {"brand": "", "last4": BAD_NUMBER_CARD[-4:]}
    assert api.advance(body["id"]) == "SUCCESS"
    shown = [created.text, malformed.text, rejected.text, api.client.get("/payments").text]
    shown.append(api.client.get(f"/payments/{body['id']}").text)
    logged = [record.getMessage() for record in caplog.records]
    for text in shown + logged:
        for number in (GOOD_CARD, BAD_NUMBER_CARD, GOOD_CARD[:12]):
            assert number not in text
        assert '"cvc"' not in text


def test_a_declined_card_fails_for_good(api: PaymentsApi) -> None:
    created = create(api, card_payment(DECLINED_CARD))
    assert api.advance(created["id"]) == "FAILED"
    failed = payment(api, created["id"])
    assert (failed["failure_reason"], failed["retryable"]) == ("CARD_DECLINED", False)
    before = ledger_state(api.client)
    expect_problem(
        api.client.post(f"/payments/{created['id']}/retry"), 409, "payment_not_retryable"
    )
    assert ledger_state(api.client) == before
    assert payment(api, created["id"]) == failed


def test_a_payment_method_token_is_charged_instead_of_a_card(api: PaymentsApi) -> None:
    body = card_payment(card=None, payment_method="pm_card_visa")
    done = succeeded(api, body)
    assert done["card"] is None
    assert [call.token for call in api.gateway.charge_calls] == ["pm_card_visa"]


# Reading one payment.


def test_an_unknown_payment_is_a_404_problem(api: PaymentsApi) -> None:
    missing = uuid4()
    expect_problem(api.client.get(f"/payments/{missing}"), 404, "payment_not_found")
    expect_problem(api.client.post(f"/payments/{missing}/retry"), 404, "payment_not_found")
    response = api.client.post(f"/payments/{missing}/refund", json={})
    expect_problem(response, 404, "payment_not_found")


@pytest.mark.parametrize("path", ["/payments/not-a-uuid", "/payments/123/retry"])
def test_a_malformed_payment_id_is_a_404_problem(api: PaymentsApi, path: str) -> None:
    response = api.client.post(path) if path.endswith("retry") else api.client.get(path)
    expect_problem(response, 404, "not_found")


# Idempotency.


def test_a_replayed_payment_returns_the_original_answer_and_records_once(
    api: PaymentsApi,
) -> None:
    first = api.client.post("/payments", json=wallet_payment(), headers={"Idempotency-Key": "p-1"})
    created = expect(first, 201)
    assert created["id"] == str(command_id(scope_of(api.client), "p-1"))
    api.advance(created["id"])
    again = api.client.post("/payments", json=wallet_payment(), headers={"Idempotency-Key": "p-1"})
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == created  # the answer as first given (CREATED), not the state now
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE - 2_500
    listed = api.client.get("/payments", params={"min_position": api.position()})
    assert [row["id"] for row in expect(listed, 200)["payments"]] == [created["id"]]


def test_a_replayed_failed_payment_returns_the_same_failure(api: PaymentsApi) -> None:
    failed = create(api, wallet_payment(amount=0), key="p-0")
    again = api.client.post(
        "/payments", json=wallet_payment(amount=0), headers={"Idempotency-Key": "p-0"}
    )
    assert expect(again, 201) == failed
    assert again.headers[REPLAYED_HEADER] == "true"


def test_a_replay_with_wait_answers_with_the_latest_state(api: PaymentsApi) -> None:
    created = create(api, wallet_payment(), key="p-2")
    api.advance(created["id"])
    again = api.client.post(
        "/payments", json=wallet_payment(), headers={"Idempotency-Key": "p-2"}, params={"wait": 1}
    )
    assert expect(again, 201)["status"] == "SUCCESS"
    assert again.headers[REPLAYED_HEADER] == "true"


def test_a_payment_key_reused_for_another_request_is_refused(api: PaymentsApi) -> None:
    create(api, card_payment(), key="p-3")
    before = ledger_state(api.client)
    for other in (card_payment(amount=5_001), card_payment(DECLINED_CARD), wallet_payment()):
        response = api.client.post("/payments", json=other, headers={"Idempotency-Key": "p-3"})
        expect_problem(response, 422, "idempotency_key_reused")
    assert ledger_state(api.client) == before


def test_a_payment_without_a_key_is_recorded_each_time(api: PaymentsApi) -> None:
    first = create(api, wallet_payment())
    second = create(api, wallet_payment())
    assert first["id"] != second["id"]


# Retries.


def test_a_transient_failure_is_retried_up_to_the_limit_and_no_further(
    api: PaymentsApi,
) -> None:
    created = create(api, card_payment(PROCESSING_ERROR_CARD))
    assert api.advance(created["id"]) == "FAILED"
    failed = payment(api, created["id"])
    assert (failed["failure_reason"], failed["retryable"]) == ("PROCESSING_ERROR", True)
    for attempt in range(2, RETRIES_MAX + 2):
        response = api.client.post(
            f"/payments/{created['id']}/retry", headers={"Idempotency-Key": f"r-{attempt}"}
        )
        retried = expect(response, 200)
        assert response.headers[POSITION_HEADER].isdigit()
        assert (retried["status"], retried["attempts"]) == ("PROCESSING", attempt)
        assert retried["failure_reason"] is None
        assert steps(retried)[-1] == ("PROCESSING", "retry")
        assert api.advance(created["id"]) == "FAILED"
    # Each attempt went to the gateway with a key of its own.
    assert api.gateway.keys_called() == [
        f"{created['id']}:{attempt}" for attempt in range(1, RETRIES_MAX + 2)
    ]
    exhausted = payment(api, created["id"])
    before = ledger_state(api.client)
    response = api.client.post(f"/payments/{created['id']}/retry")
    expect_problem(response, 409, "retry_limit_reached")
    assert ledger_state(api.client) == before
    assert payment(api, created["id"]) == exhausted


def test_a_retry_can_succeed(api: PaymentsApi) -> None:
    created = create(api, card_payment(PROCESSING_ERROR_CARD))
    api.advance(created["id"])
    api.gateway.script(f"{created['id']}:2", SUCCEED)
    expect(api.client.post(f"/payments/{created['id']}/retry"), 200)
    assert api.advance(created["id"]) == "SUCCESS"
    done = payment(api, created["id"])
    assert steps(done) == [
        ("CREATED", "requested"),
        ("PROCESSING", "accepted"),
        ("FAILED", "PROCESSING_ERROR"),
        ("PROCESSING", "retry"),
        ("SUCCESS", "captured"),
    ]
    assert (done["captured"], done["failure_reason"], done["attempts"]) == (5_000, None, 2)
    expect_problem(
        api.client.post(f"/payments/{created['id']}/retry"), 409, "invalid_payment_transition"
    )


def test_a_retry_that_fails_for_good_cannot_be_retried_again(api: PaymentsApi) -> None:
    created = create(api, card_payment(PROCESSING_ERROR_CARD))
    api.advance(created["id"])
    api.gateway.script(f"{created['id']}:2", fail("CARD_DECLINED"))
    expect(api.client.post(f"/payments/{created['id']}/retry"), 200)
    assert api.advance(created["id"]) == "FAILED"
    failed = payment(api, created["id"])
    assert (failed["failure_reason"], failed["retryable"]) == ("CARD_DECLINED", False)
    expect_problem(
        api.client.post(f"/payments/{created['id']}/retry"), 409, "payment_not_retryable"
    )
    assert payment(api, created["id"]) == failed


def test_a_replayed_retry_returns_the_original_answer_and_retries_once(
    api: PaymentsApi,
) -> None:
    created = create(api, card_payment(PROCESSING_ERROR_CARD))
    api.advance(created["id"])
    path = f"/payments/{created['id']}/retry"
    first = expect(api.client.post(path, headers={"Idempotency-Key": "again"}), 200)
    position = api.position()
    replay = api.client.post(path, headers={"Idempotency-Key": "again"})
    assert expect(replay, 200) == first
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert api.position() == position
    assert payment(api, created["id"])["attempts"] == 2


@pytest.mark.parametrize("status", ["CREATED", "SUCCESS"])
def test_retrying_a_payment_that_did_not_fail_is_a_409_that_changes_nothing(
    api: PaymentsApi, status: str
) -> None:
    created = create(api, wallet_payment())
    if status == "SUCCESS":
        api.advance(created["id"])
    current = payment(api, created["id"])
    assert current["status"] == status
    before = ledger_state(api.client)
    response = api.client.post(f"/payments/{created['id']}/retry")
    expect_problem(response, 409, "invalid_payment_transition")
    assert ledger_state(api.client) == before
    assert payment(api, created["id"]) == current


# Refunds.


def test_partial_refunds_add_up_to_the_capture_and_no_further(api: PaymentsApi) -> None:
    done = succeeded(api, wallet_payment(amount=10_000))
    path = f"/payments/{done['id']}/refund"
    balance = ALICE_BALANCE - 10_000
    for amount, status in ((3_000, "PARTIALLY_REFUNDED"), (3_000, "PARTIALLY_REFUNDED")):
        response = api.client.post(path, json={"amount": amount, "reason": "returned item"})
        refunded = expect(response, 201)
        assert response.headers[POSITION_HEADER].isdigit()
        assert refunded["status"] == status
        assert steps(refunded)[-1] == (status, "returned item")
        balance += amount
        assert wallet(api.client, "alice")["balance"] == balance
    assert (refunded["refunded"], refunded["refundable"]) == (6_000, 4_000)

    before = ledger_state(api.client)
    expect_problem(api.client.post(path, json={"amount": 4_001}), 422, "refund_exceeds_captured")
    assert ledger_state(api.client) == before
    assert payment(api, done["id"]) == refunded

    everything = expect(api.client.post(path, json={"amount": None}), 201)
    assert (everything["status"], everything["refunded"], everything["refundable"]) == (
        "REFUNDED",
        10_000,
        0,
    )
    assert steps(everything)[-1] == ("REFUNDED", "refund")
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE

    before = ledger_state(api.client)
    expect_problem(api.client.post(path, json={"amount": 1}), 409, "invalid_payment_transition")
    assert ledger_state(api.client) == before


def test_a_refund_of_splits_takes_back_from_each_payee_in_proportion(api: PaymentsApi) -> None:
    splits = [{"payee": "school", "bps": 9_000}, {"payee": "platform", "bps": 1_000}]
    done = succeeded(api, wallet_payment(amount=10_000, splits=splits))
    refunded = expect(
        api.client.post(f"/payments/{done['id']}/refund", json={"amount": 5_000}), 201
    )
    assert refunded["refunded"] == 5_000
    assert refunded["allocations"] == done["allocations"]  # what was captured stays on record


def test_a_card_refund_goes_through_the_gateway(api: PaymentsApi) -> None:
    done = succeeded(api, card_payment())
    refunded = expect(api.client.post(f"/payments/{done['id']}/refund", json={}), 201)
    assert refunded["status"] == "REFUNDED"
    assert [call.amount_minor for call in api.gateway.refund_calls] == [5_000]


def test_a_refund_the_gateway_refuses_is_a_502_that_refunds_nothing(api: PaymentsApi) -> None:
    done = succeeded(api, card_payment())
    refund_id = command_id(scope_of(api.client), "refund-1")
    api.gateway.script_refund(str(refund_id), fail("REFUND_DECLINED"))
    response = api.client.post(
        f"/payments/{done['id']}/refund", json={}, headers={"Idempotency-Key": "refund-1"}
    )
    expect_problem(response, 502, "gateway_refund_failed")
    after = payment(api, done["id"])
    assert (after["status"], after["refunded"], after["refundable"]) == ("SUCCESS", 0, 5_000)
    assert after["pending_refunds"] == 0


@pytest.mark.parametrize("status", ["CREATED", "PROCESSING", "FAILED"])
def test_refunding_a_payment_that_captured_nothing_is_a_409_that_changes_nothing(
    api: PaymentsApi, status: str
) -> None:
    number = PROCESSING_ERROR_CARD if status == "FAILED" else GOOD_CARD
    created = create(api, card_payment(number))
    if status == "PROCESSING":
        # The gateway's answer is lost (a timeout): the payment waits for reconciliation.
        api.gateway.script(f"{created['id']}:1", UNKNOWN)
        assert api.advance(created["id"]) == "PROCESSING"
    elif status == "FAILED":
        api.advance(created["id"])
    current = payment(api, created["id"])
    assert current["status"] == status
    before = ledger_state(api.client)
    response = api.client.post(f"/payments/{created['id']}/refund", json={"amount": 1})
    expect_problem(response, 409, "invalid_payment_transition")
    assert ledger_state(api.client) == before
    assert payment(api, created["id"]) == current


@pytest.mark.parametrize("status", ["FAILED", "REFUNDED"])
def test_a_full_refund_with_nothing_captured_left_is_a_409_that_changes_nothing(
    api: PaymentsApi, status: str
) -> None:
    created = create(api, card_payment(DECLINED_CARD if status == "FAILED" else GOOD_CARD))
    api.advance(created["id"])
    path = f"/payments/{created['id']}/refund"
    if status == "REFUNDED":
        expect(api.client.post(path, json={}), 201)
    current = payment(api, created["id"])
    assert current["status"] == status
    before = ledger_state(api.client)
    expect_problem(api.client.post(path, json={}), 409, "invalid_payment_transition")
    assert ledger_state(api.client) == before
    assert payment(api, created["id"]) == current


@pytest.mark.parametrize("body", [{"amount": 0}, {"amount": -1}, {"amount": "1"}, {"x": 1}])
def test_a_malformed_refund_is_a_validation_problem_that_changes_nothing(
    api: PaymentsApi, body: Any
) -> None:
    done = succeeded(api, wallet_payment())
    before = ledger_state(api.client)
    response = api.client.post(f"/payments/{done['id']}/refund", json=body)
    expect_problem(response, 422, "validation_error")
    assert ledger_state(api.client) == before


def test_a_replayed_refund_refunds_once(api: PaymentsApi) -> None:
    done = succeeded(api, wallet_payment(amount=10_000))
    path = f"/payments/{done['id']}/refund"
    headers = {"Idempotency-Key": "rf-1"}
    first = expect(api.client.post(path, json={"amount": 4_000}, headers=headers), 201)
    replay = api.client.post(path, json={"amount": 4_000}, headers=headers)
    assert replay.status_code == 201
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.json()["refunded"] == first["refunded"] == 4_000
    assert wallet(api.client, "alice")["balance"] == ALICE_BALANCE - 6_000
    before = ledger_state(api.client)
    other = api.client.post(path, json={"amount": 3_000}, headers=headers)
    expect_problem(other, 422, "idempotency_key_reused")
    assert ledger_state(api.client) == before


# Listing.


def test_the_list_filters_by_status_payer_and_creation_time(api: PaymentsApi) -> None:
    open_wallet(api.client, "bob")
    credit(api.client, "bob", 10_000)
    start = datetime.now(UTC)
    ok = succeeded(api, wallet_payment())
    bad = create(api, wallet_payment(amount=0))
    bobs = create(api, wallet_payment(payer_id="bob"))
    card = create(api, card_payment())
    end = datetime.now(UTC) + timedelta(seconds=1)

    def ids(**params: Any) -> list[str]:
        page = expect(
            api.client.get("/payments", params={**params, "min_position": api.position()}), 200
        )
        return [row["id"] for row in page["payments"]]

    newest_first = [card["id"], bobs["id"], bad["id"], ok["id"]]
    assert ids() == newest_first
    assert ids(status="SUCCESS") == [ok["id"]]
    assert ids(status="FAILED") == [bad["id"]]
    assert ids(status="CREATED") == [card["id"], bobs["id"]]
    assert ids(status="REFUNDED") == []
    assert ids(payer_id="bob") == [bobs["id"]]
    assert ids(payer_id="alice", status="CREATED") == []
    assert ids(created_from=start.isoformat(), created_to=end.isoformat()) == newest_first
    assert ids(created_to=start.isoformat()) == []
    assert ids(created_from=end.isoformat()) == []
    row = expect(api.client.get("/payments", params={"status": "FAILED"}), 200)["payments"][0]
    assert (row["failure_reason"], row["amount"], row["payer_id"]) == ("INVALID_AMOUNT", 0, "alice")


def test_the_list_pages_with_a_cursor(api: PaymentsApi) -> None:
    created = [create(api, wallet_payment(amount=100 + i))["id"] for i in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "min_position": api.position()}
    for _ in range(5):
        page = expect(api.client.get("/payments", params=params), 200)
        assert len(page["payments"]) <= 2
        seen += [row["id"] for row in page["payments"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == created[::-1]


def test_the_status_filter_offers_exactly_the_payment_statuses() -> None:
    statuses, _ = get_args(get_args(PaymentStatus)[0])
    assert get_args(statuses) == tuple(Status)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "PAID"}, 422, "validation_error"),
        ({"limit": 0}, 422, "validation_error"),
        ({"limit": 201}, 422, "validation_error"),
        ({"created_from": "yesterday"}, 422, "validation_error"),
        ({"created_from": "2026-01-01T00:00:00"}, 422, "validation_error"),
        ({"created_to": "2026-01-01T00:00:00"}, 422, "validation_error"),
        ({"min_position": -1}, 422, "validation_error"),
        ({"cursor": "zzz"}, 422, "validation_error"),
        ({"cursor": "seq_5"}, 422, "validation_error"),  # a statement's cursor, not ours
    ],
)
def test_a_bad_list_parameter_is_a_problem(
    api: PaymentsApi, params: dict[str, Any], status: int, code: str
) -> None:
    body = expect_problem(api.client.get("/payments", params=params), status, code)
    if status == 422:
        assert body["errors"][0]["source"] == "query"


def test_the_list_answers_503_while_the_view_is_behind_the_position_asked_for() -> None:
    settings = memory_settings(view_wait_timeout_s=0.05, projections_in_process=False)
    with payments_api(settings) as api:
        written = api.client.post("/wallets", json={"customer_id": "late", "currency": "USD"})
        position = written.headers[POSITION_HEADER]
        response = api.client.get("/payments", params={"min_position": position})
        expect_problem(response, 503, "view_not_caught_up")
        assert response.headers["retry-after"] == "1"


def test_the_list_refuses_a_position_beyond_the_log_at_once() -> None:
    with payments_api(memory_settings(view_wait_timeout_s=5)) as api:
        started = time.monotonic()
        response = api.client.get("/payments", params={"min_position": 10**9})
        expect_problem(response, 422, "position_beyond_log")
        assert time.monotonic() - started < 1


def test_a_payment_is_listed_as_soon_as_its_position_is_asked_for(api: PaymentsApi) -> None:
    response = api.client.post("/payments", json=wallet_payment())
    created = expect(response, 201)
    params = {"min_position": response.headers[POSITION_HEADER]}
    rows = expect(api.client.get("/payments", params=params), 200)["payments"]
    assert [(r["id"], r["status"]) for r in rows] == [(created["id"], "CREATED")]
