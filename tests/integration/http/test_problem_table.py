"""Domain and application errors as RFC 9457 problems: the one table, and each rule over
HTTP, where a refused request changes nothing (the log position and every balance stay as
they were)."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient

from application import errors as app_errors
from domain import errors
from entrypoints.http.problems import ERROR_STATUS, handle_error
from tests.integration.http.support import (
    OPENING_BALANCE,
    PROBLEM_CONTENT_TYPE,
    expect,
    expect_problem,
    ledger_state,
    memory_settings,
    running_client,
)

pytestmark = pytest.mark.integration

BASES = (errors.DomainError, app_errors.ApplicationError)
ERRORS = sorted(
    (
        cls
        for module in (errors, app_errors)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BASES) and cls not in BASES
    ),
    key=lambda cls: cls.__name__,
)
# Errors whose constructor takes what the failure was about.
ARGUMENTS: dict[type[Exception], tuple[str, ...]] = {
    app_errors.CardRejectedError: ("INVALID_CARD", "The card number fails the Luhn check."),
    app_errors.WebhookRejectedError: ("bad_signature",),
    app_errors.WebhookUrlRefusedError: ("a loopback address: 127.0.0.1",),
}
EXPECTED_STATUS = {
    "wallet_not_found": 404,
    "transaction_not_found": 404,
    "hold_not_found": 404,
    "payment_not_found": 404,
    "account_not_found": 404,
    "charge_not_found": 404,
    "webhook_endpoint_not_found": 404,
    "webhook_delivery_not_found": 404,
    "webhook_endpoint_configured": 409,
    "webhook_endpoint_disabled": 409,
    "wallet_exists": 409,
    "hold_not_pending": 409,
    "hold_expired": 409,
    "concurrency_conflict": 409,
    "invalid_payment_transition": 409,
    "payment_not_retryable": 409,
    "retry_limit_reached": 409,
    "gateway_refund_failed": 502,
    "view_not_caught_up": 503,
    "position_beyond_log": 422,
    "checkout_refused": 422,
    "invalid_cursor": 400,
    "invalid_payment_status": 400,
    "not_found": 404,
    "invalid_signature": 400,
    "webhooks_not_configured": 404,
    "service_unavailable": 503,
    "email_taken": 409,
    "forbidden": 403,
    "invalid_credentials": 401,
    "unauthorized": 401,
    "invalid_registration_transition": 409,
    "registration_not_found": 404,
    "school_not_found": 404,
    "trip_not_found": 404,
    "user_not_found": 404,
    "seat_not_held": 409,
    "cannot_delete_self": 409,
    "trip_full": 409,
    "trip_deleted": 404,
    "user_deleted": 404,
    "transaction_immutable": 409,
    "installment_plan_not_found": 404,
    "invalid_plan_transition": 409,
}


# The table.


def test_every_domain_and_application_error_has_a_row_in_the_problem_table() -> None:
    assert len(ERRORS) >= 30
    missing = [cls.__name__ for cls in ERRORS if cls not in ERROR_STATUS]
    assert not missing


@pytest.mark.parametrize("error_class", ERRORS, ids=lambda cls: cls.code)
def test_an_error_becomes_a_problem_with_its_code(error_class: type[Any]) -> None:
    error = error_class(*ARGUMENTS.get(error_class, ()))
    response = handle_error(None, error)  # type: ignore[arg-type]
    status = EXPECTED_STATUS.get(error_class.code, 422)
    assert response.status_code == status
    assert response.media_type == PROBLEM_CONTENT_TYPE
    problem = response.content
    assert (problem.status, problem.code) == (status, error_class.code)
    assert problem.type.endswith("/problems/" + error_class.code)
    assert problem.detail
    if status == 503:
        assert response.headers["Retry-After"] == "1"


# Business rules over HTTP.


RULE_CASES: list[tuple[str, str, Any, int, str]] = [
    (
        "debit beyond the balance",
        "/wallets/alice/debit",
        {"amount": OPENING_BALANCE + 1, "currency": "USD"},
        422,
        "insufficient_funds",
    ),
    (
        "unknown currency",
        "/wallets/alice/credit",
        {"amount": 10, "currency": "XXX"},
        422,
        "unknown_currency",
    ),
    (
        "lowercase currency",
        "/wallets",
        {"customer_id": "carol", "currency": "usd"},
        422,
        "validation_error",  # a currency is three upper-case letters, checked at the boundary
    ),
    (
        "wallet in another currency",
        "/wallets/alice/credit",
        {"amount": 10, "currency": "EUR"},
        404,
        "wallet_not_found",
    ),
    (
        "credit to nobody",
        "/wallets/nobody/credit",
        {"amount": 10, "currency": "USD"},
        404,
        "wallet_not_found",
    ),
    (
        "second wallet in a currency",
        "/wallets",
        {"customer_id": "alice", "currency": "USD"},
        409,
        "wallet_exists",
    ),
    (
        "transfer to oneself",
        "/transfers",
        {"from_customer_id": "alice", "to_customer_id": "alice", "amount": 10, "currency": "USD"},
        422,
        "same_wallet_transfer",
    ),
    (
        "transfer beyond the balance",
        "/transfers",
        {"from_customer_id": "alice", "to_customer_id": "bob", "amount": 5_000, "currency": "USD"},
        422,
        "insufficient_funds",
    ),
    (
        "hold beyond the balance",
        "/wallets/alice/holds",
        {"amount": 5_000, "currency": "USD"},
        422,
        "insufficient_funds",
    ),
    (
        "hold expiring in the past",
        "/wallets/alice/holds",
        {"amount": 10, "currency": "USD", "expires_in_s": -5},
        422,
        "invalid_expiry",
    ),
    (
        "hold expiring in a year",
        "/wallets/alice/holds",
        {"amount": 10, "currency": "USD", "expires_in_s": 365 * 86_400},
        422,
        "invalid_expiry",
    ),
    (
        "empty customer id",
        "/wallets",
        {"customer_id": "", "currency": "USD"},
        422,
        "invalid_customer_id",
    ),
    (
        "customer id with a NUL",
        "/wallets",
        {"customer_id": "a\x00b", "currency": "USD"},
        422,
        "validation_error",  # no control characters, checked at the boundary
    ),
    (
        "negative overdraft",
        "/wallets",
        {"customer_id": "carol", "currency": "USD", "overdraft_limit": -1},
        422,
        "invalid_overdraft_limit",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [case[1:] for case in RULE_CASES],
    ids=[c[0] for c in RULE_CASES],
)
def test_a_broken_rule_is_a_problem_and_changes_nothing(
    funded_client: TestClient[Any], path: str, body: Any, status: int, code: str
) -> None:
    before = ledger_state(funded_client)
    expect_problem(funded_client.post(path, json=body), status, code)
    assert ledger_state(funded_client) == before


def test_hold_problems_are_404_409_and_422(funded_client: TestClient[Any]) -> None:
    expect_problem(funded_client.get(f"/holds/{uuid.uuid4()}"), 404, "hold_not_found")
    expect_problem(
        funded_client.post(f"/holds/{uuid.uuid4()}/void", json={}), 404, "hold_not_found"
    )
    expect_problem(funded_client.get(f"/transactions/{uuid.uuid4()}"), 404, "transaction_not_found")
    hold = expect(
        funded_client.post("/wallets/alice/holds", json={"amount": 100, "currency": "USD"}), 201
    )
    before = ledger_state(funded_client)
    expect_problem(
        funded_client.post(f"/holds/{hold['id']}/post", json={"amount": 101}),
        422,
        "hold_amount_exceeded",
    )
    expect_problem(
        funded_client.post(f"/holds/{hold['id']}/post", json={"to_customer_id": "alice"}),
        422,
        "same_wallet_transfer",
    )
    expect_problem(
        funded_client.post(f"/holds/{hold['id']}/post", json={"to_customer_id": "nobody"}),
        404,
        "wallet_not_found",
    )
    assert ledger_state(funded_client) == before
    expect(funded_client.post(f"/holds/{hold['id']}/void", json={}), 200)
    before = ledger_state(funded_client)
    expect_problem(
        funded_client.post(f"/holds/{hold['id']}/void", json={}), 409, "hold_not_pending"
    )
    expect_problem(
        funded_client.post(f"/holds/{hold['id']}/post", json={}), 409, "hold_not_pending"
    )
    assert ledger_state(funded_client) == before


@pytest.mark.parametrize(
    "path", ["/holds/not-a-uuid", "/holds/123", "/transactions/x", "/holds/%00/post"]
)
def test_a_malformed_id_in_the_path_is_a_404_problem(
    funded_client: TestClient[Any], path: str
) -> None:
    response = funded_client.get(path) if "post" not in path else funded_client.post(path, json={})
    expect_problem(response, 404, "not_found")


def test_a_cursor_not_of_the_lists_pattern_is_a_422_problem(
    funded_client: TestClient[Any],
) -> None:
    for cursor in ("zzz", "seq_-1", "seq_0", "pos_5", "%%%"):
        response = funded_client.get(
            "/wallets/alice/ledger", params={"currency": "USD", "cursor": cursor}
        )
        expect_problem(response, 422, "validation_error")


def test_a_view_behind_the_position_asked_for_is_a_503_with_retry_after() -> None:
    # The read models never move (no projections): the log has the position, they do not.
    settings = memory_settings(view_wait_timeout_s=0.05, projections_in_process=False)
    with running_client(settings) as client:
        opened = client.post("/wallets", json={"customer_id": "alice", "currency": "USD"})
        position = int(opened.headers["PayLedger-Position"])
        for path, params in [
            ("/balances", {}),
            ("/wallets/alice", {}),
            ("/wallets/alice/ledger", {"currency": "USD"}),
        ]:
            response = client.get(path, params={**params, "min_position": position})
            expect_problem(response, 503, "view_not_caught_up")
            assert response.headers["retry-after"] == "1"
            # A position no write has reached is the client's mistake: 422, no wait.
            beyond = client.get(path, params={**params, "min_position": 10**9})
            expect_problem(beyond, 422, "position_beyond_log")
