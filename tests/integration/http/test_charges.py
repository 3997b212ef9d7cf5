"""Charges (seed 003) over HTTP: the customer's wallet pays what it can, a card the rest.

The app runs the production container on the in-memory store with a counting gateway, so a
test can see whether (and with which key and amount) the card was charged. Every refused or
failed charge also checks that the wallet and the ledger's balances did not change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from application.idempotency import command_id
from tests.integration.http.payments_support import PaymentsApi, payments_api
from tests.integration.http.support import (
    POSITION_HEADER,
    REPLAYED_HEADER,
    expect,
    expect_problem,
    ledger_state,
    open_wallet,
    scope_of,
    wallet,
)
from tests.integration.http.support import credit as credit_wallet
from tests.unit.application.payment_fakes import (
    BAD_NUMBER_CARD,
    DECLINED_CARD,
    EXPIRED_AT_BANK_CARD,
    GOOD_CARD,
    NO_FUNDS_CARD,
    UNKNOWN,
)

pytestmark = pytest.mark.integration

WALLET_BALANCE = 1_000  # what alice's USD wallet holds at the start of every test
Json = Any


@pytest.fixture
def api() -> Iterator[PaymentsApi]:
    """Alice has a USD wallet holding WALLET_BALANCE; the card gateway counts its calls."""
    with payments_api() as api:
        open_wallet(api.client, "alice")
        credit_wallet(api.client, "alice", WALLET_BALANCE)
        yield api


def card(number: str = GOOD_CARD) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def charge_body(amount: int, card_number: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": "alice",
        "recipient": "shop",
        "amount": amount,
        "currency": "USD",
        **fields,
    }
    if card_number is not None:
        body["card"] = card(card_number)
    return body


def create(api: PaymentsApi, body: Json, key: str | None = None) -> Json:
    """POST /charges, asserting the 201 and its headers; the charge as answered."""
    headers = {"Idempotency-Key": key} if key else {}
    response = api.client.post("/charges", json=body, headers=headers)
    created = expect(response, 201)
    assert response.headers["location"] == f"/charges/{created['id']}"
    assert response.headers[POSITION_HEADER].isdigit()
    return created


def charge_of(api: PaymentsApi, charge_id: str) -> Json:
    return expect(api.client.get(f"/charges/{charge_id}"), 200)


def hold_of(api: PaymentsApi, charge_id: str) -> Any:
    """The response for the hold a charge reserves its wallet part with (its id is fixed)."""
    return api.client.get(f"/holds/{uuid5(UUID(charge_id), 'hold')}")


def postings(api: PaymentsApi, transaction_id: str) -> dict[str, int]:
    """{account name: amount} of a journal transaction."""
    transaction = expect(api.client.get(f"/transactions/{transaction_id}"), 200)
    assert transaction["kind"] == "payment", transaction
    return {posting["account"]: posting["amount"] for posting in transaction["postings"]}


def balances(api: PaymentsApi) -> dict[str, int]:
    """{account name: balance} once the view has caught up with every write."""
    _, rows = ledger_state(api.client)
    return {row["account"]: row["balance"] for row in rows}


def assert_money_conserved(api: PaymentsApi) -> None:
    """Every currency's balances sum to zero: no money was made or lost."""
    _, rows = ledger_state(api.client)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["currency"]] += row["balance"]
    assert set(totals.values()) <= {0}, totals


def alice(api: PaymentsApi) -> tuple[int, int, int]:
    found = wallet(api.client, "alice")
    return found["balance"], found["held"], found["available"]


def charge_key(api: PaymentsApi, idempotency_key: str) -> str:
    """The gateway key of the charge a client's Idempotency-Key creates."""
    return f"{command_id(scope_of(api.client), idempotency_key)}:1"


# The wallet first.


@pytest.mark.parametrize("card_number", [None, GOOD_CARD])
def test_a_charge_the_wallet_covers_is_a_plain_debit_and_never_charges_the_card(
    api: PaymentsApi, card_number: str | None
) -> None:
    created = create(api, charge_body(400, card_number, description="Coffee"))

    assert created["status"] == "SUCCESS"
    assert (created["amount"], created["wallet_amount"], created["card_amount"]) == (400, 400, 0)
    assert created["failure_reason"] is None
    assert created["allocations"] == [{"payee": "shop", "amount": 400}]
    assert api.gateway.charge_calls == []
    assert alice(api) == (600, 0, 600)
    expect_problem(hold_of(api, created["id"]), 404, "hold_not_found")  # no hold was needed
    assert postings(api, created["transaction_id"]) == {"wallet:alice": -400, "payable:shop": 400}
    assert charge_of(api, created["id"]) == created
    assert_money_conserved(api)


def test_a_charge_of_the_whole_wallet_empties_it_without_the_card(api: PaymentsApi) -> None:
    created = create(api, charge_body(WALLET_BALANCE, GOOD_CARD))
    assert (created["status"], created["wallet_amount"], created["card_amount"]) == (
        "SUCCESS",
        WALLET_BALANCE,
        0,
    )
    assert api.gateway.charge_calls == []
    assert alice(api) == (0, 0, 0)


def test_a_charge_beyond_the_wallet_takes_the_rest_from_the_card(api: PaymentsApi) -> None:
    created = create(api, charge_body(1_500, GOOD_CARD))

    assert created["status"] == "SUCCESS"
    assert (created["wallet_amount"], created["card_amount"]) == (WALLET_BALANCE, 500)
    assert created["card"] == {"brand": "visa", "last4": GOOD_CARD[-4:]}
    assert created["allocations"] == [{"payee": "shop", "amount": 1_500}]
    # The card is charged for the rest only, under a key fixed by the charge.
    [call] = api.gateway.charge_calls
    assert (call.amount_minor, call.idempotency_key) == (500, f"{created['id']}:1")
    assert alice(api) == (0, 0, 0)
    # The wallet part was reserved by a hold, then captured into the charge's transaction.
    hold = expect(hold_of(api, created["id"]), 200)
    assert (hold["status"], hold["amount"], hold["posted_amount"]) == ("POSTED", 1_000, 1_000)
    assert hold["transaction_id"] == created["transaction_id"]
    assert postings(api, created["transaction_id"]) == {
        "wallet:alice": -1_000,
        "system:gateway_clearing": -500,
        "payable:shop": 1_500,
    }
    assert charge_of(api, created["id"]) == created
    assert_money_conserved(api)


def test_a_customer_without_a_wallet_pays_everything_by_card(api: PaymentsApi) -> None:
    created = create(api, charge_body(700, GOOD_CARD, customer_id="carol"))
    assert (created["status"], created["wallet_amount"], created["card_amount"]) == (
        "SUCCESS",
        0,
        700,
    )
    assert [call.amount_minor for call in api.gateway.charge_calls] == [700]
    assert postings(api, created["transaction_id"]) == {
        "system:gateway_clearing": -700,
        "payable:shop": 700,
    }
    assert alice(api) == (WALLET_BALANCE, 0, WALLET_BALANCE)


def test_a_payment_method_token_pays_the_card_part(api: PaymentsApi) -> None:
    created = create(api, charge_body(1_200, payment_method="pm_card_visa"))
    assert (created["status"], created["card_amount"], created["card"]) == ("SUCCESS", 200, None)
    assert [(c.token, c.amount_minor) for c in api.gateway.charge_calls] == [("pm_card_visa", 200)]


# The card fails.


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (DECLINED_CARD, "CARD_DECLINED"),
        (NO_FUNDS_CARD, "INSUFFICIENT_FUNDS"),
        (EXPIRED_AT_BANK_CARD, "EXPIRED_CARD"),
    ],
)
def test_a_card_failure_fails_the_charge_and_gives_the_wallet_back(
    api: PaymentsApi, number: str, reason: str
) -> None:
    before = balances(api)

    created = create(api, charge_body(1_500, number))

    assert (created["status"], created["failure_reason"]) == ("FAILED", reason)
    assert (created["wallet_amount"], created["card_amount"]) == (WALLET_BALANCE, 500)
    assert (created["transaction_id"], created["allocations"]) == (None, [])
    assert charge_of(api, created["id"]) == created
    # The hold that reserved the wallet part is voided, not captured: nothing moved.
    hold = expect(hold_of(api, created["id"]), 200)
    assert (hold["status"], hold["posted_amount"], hold["transaction_id"]) == ("VOIDED", 0, None)
    assert alice(api) == (WALLET_BALANCE, 0, WALLET_BALANCE)
    assert balances(api) == before
    # And the money is really available again.
    again = create(api, charge_body(WALLET_BALANCE))
    assert again["status"] == "SUCCESS"
    assert alice(api) == (0, 0, 0)


# Refused requests record nothing.


def test_a_charge_the_wallet_cannot_cover_without_a_card_is_refused_and_records_nothing(
    api: PaymentsApi,
) -> None:
    before = ledger_state(api.client)
    response = api.client.post("/charges", json=charge_body(WALLET_BALANCE + 1))
    body = expect_problem(response, 422, "insufficient_funds")
    assert str(WALLET_BALANCE) in body["detail"]
    nobody = api.client.post("/charges", json=charge_body(1, customer_id="nobody"))
    expect_problem(nobody, 422, "insufficient_funds")
    assert ledger_state(api.client) == before
    assert alice(api) == (WALLET_BALANCE, 0, WALLET_BALANCE)
    assert api.gateway.charge_calls == []


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"recipient": ""}, 422, "invalid_recipient"),
        ({"recipient": "shop\nfront"}, 422, "validation_error"),  # no control characters
        ({"recipient": "s" * 201}, 422, "validation_error"),
        ({"customer_id": ""}, 422, "invalid_customer_id"),
        ({"currency": "XXX"}, 422, "unknown_currency"),
        ({"amount": 0}, 422, "validation_error"),
        ({"amount": -5}, 422, "validation_error"),
        ({"amount": "100"}, 422, "validation_error"),
        ({"card": card(BAD_NUMBER_CARD)}, 422, "card_rejected"),
        ({"splits": [{"payee": "school", "bps": 9_000}]}, 422, "invalid_split"),
        ({"tip": 5}, 422, "validation_error"),
    ],
)
def test_a_bad_charge_request_is_a_problem_that_records_nothing(
    api: PaymentsApi, fields: dict[str, Any], status: int, code: str
) -> None:
    before = ledger_state(api.client)
    response = api.client.post("/charges", json={**charge_body(1_500, GOOD_CARD), **fields})
    expect_problem(response, status, code)
    assert ledger_state(api.client) == before
    assert alice(api) == (WALLET_BALANCE, 0, WALLET_BALANCE)
    assert api.gateway.charge_calls == []


def test_a_card_number_never_appears_in_an_answer(api: PaymentsApi) -> None:
    created = api.client.post("/charges", json=charge_body(1_500, GOOD_CARD))
    rejected = api.client.post("/charges", json=charge_body(1_500, BAD_NUMBER_CARD))
    shown = [created.text, rejected.text, api.client.get(f"/charges/{created.json()['id']}").text]
    for text in shown:
        assert GOOD_CARD not in text
        assert BAD_NUMBER_CARD not in text


# Splits.


def test_splits_divide_a_charge_between_payees(api: PaymentsApi) -> None:
    splits = [{"payee": "school", "bps": 9_000}, {"payee": "platform", "bps": 1_000}]
    created = create(api, charge_body(1_501, GOOD_CARD, splits=splits))

    assert created["status"] == "SUCCESS"
    assert created["allocations"] == [
        {"payee": "school", "amount": 1_351},
        {"payee": "platform", "amount": 150},
    ]
    assert postings(api, created["transaction_id"]) == {
        "wallet:alice": -1_000,
        "system:gateway_clearing": -501,
        "payable:school": 1_351,
        "system:platform_fees": 150,
    }
    assert_money_conserved(api)


def test_a_fixed_split_comes_first_and_basis_points_share_the_rest(api: PaymentsApi) -> None:
    splits = [{"payee": "tutor", "amount": 250}, {"payee": "school", "bps": 10_000}]
    created = create(api, charge_body(900, splits=splits))
    assert created["allocations"] == [
        {"payee": "tutor", "amount": 250},
        {"payee": "school", "amount": 650},
    ]
    assert postings(api, created["transaction_id"]) == {
        "wallet:alice": -900,
        "payable:tutor": 250,
        "payable:school": 650,
    }


# Idempotency.


def test_a_replayed_charge_returns_the_original_answer_and_charges_once(api: PaymentsApi) -> None:
    body = charge_body(1_500, GOOD_CARD)
    first = api.client.post("/charges", json=body, headers={"Idempotency-Key": "ch-1"})
    created = expect(first, 201)
    assert created["id"] == str(command_id(scope_of(api.client), "ch-1"))

    again = api.client.post("/charges", json=body, headers={"Idempotency-Key": "ch-1"})

    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == created
    assert api.gateway.calls_for(charge_key(api, "ch-1")) == 1
    assert alice(api) == (0, 0, 0)

    before = ledger_state(api.client)
    other = api.client.post(
        "/charges", json=charge_body(1_400, GOOD_CARD), headers={"Idempotency-Key": "ch-1"}
    )
    expect_problem(other, 422, "idempotency_key_reused")
    other_card = api.client.post(
        "/charges", json=charge_body(1_500, DECLINED_CARD), headers={"Idempotency-Key": "ch-1"}
    )
    expect_problem(other_card, 422, "idempotency_key_reused")
    assert ledger_state(api.client) == before
    assert len(api.gateway.charge_calls) == 1


def test_a_replayed_failed_charge_returns_the_failure_without_charging_again(
    api: PaymentsApi,
) -> None:
    body = charge_body(1_500, DECLINED_CARD)
    failed = create(api, body, key="ch-declined")
    before = ledger_state(api.client)
    again = api.client.post("/charges", json=body, headers={"Idempotency-Key": "ch-declined"})
    assert expect(again, 201) == failed
    assert again.headers[REPLAYED_HEADER] == "true"
    assert ledger_state(api.client) == before
    assert api.gateway.calls_for(charge_key(api, "ch-declined")) == 1


def test_charges_without_a_key_are_recorded_each_time(api: PaymentsApi) -> None:
    first = create(api, charge_body(300))
    second = create(api, charge_body(300))
    assert first["id"] != second["id"]
    assert alice(api) == (400, 0, 400)


def test_a_charge_left_pending_by_an_unknown_card_outcome_is_settled_by_a_replay(
    api: PaymentsApi,
) -> None:
    body = charge_body(1_500, GOOD_CARD)
    api.gateway.script(charge_key(api, "ch-lost"), UNKNOWN)  # the answer is lost (a timeout)
    pending = create(api, body, key="ch-lost")
    assert pending["status"] == "PROCESSING"
    assert alice(api) == (WALLET_BALANCE, WALLET_BALANCE, 0)  # the wallet part is reserved

    again = expect(
        api.client.post("/charges", json=body, headers={"Idempotency-Key": "ch-lost"}), 201
    )

    assert api.gateway.calls_for(charge_key(api, "ch-lost")) == 2  # asked again, same key
    assert again["status"] == "SUCCESS"
    assert alice(api) == (0, 0, 0)


# Reading.


def test_an_unknown_charge_is_a_404_problem(api: PaymentsApi) -> None:
    expect_problem(api.client.get(f"/charges/{uuid4()}"), 404, "charge_not_found")


@pytest.mark.parametrize("path", ["/charges/not-a-uuid", "/charges/123", "/charges/%00"])
def test_a_malformed_charge_id_is_a_404_problem(api: PaymentsApi, path: str) -> None:
    expect_problem(api.client.get(path), 404, "not_found")


def test_a_payment_id_is_not_a_charge(api: PaymentsApi) -> None:
    payment = {"amount": 100, "currency": "USD", "recipient": "shop", "payer_id": "alice"}
    created = expect(api.client.post("/payments", json={**payment, "method": "wallet"}), 201)
    expect_problem(api.client.get(f"/charges/{created['id']}"), 404, "charge_not_found")


def test_charges_are_listed_newest_first_by_customer() -> None:
    with payments_api() as api:
        client = api.client
        open_wallet(client, "zoe")
        credit_wallet(client, "zoe", 5_000)
        first = client.post(
            "/charges",
            json={"customer_id": "zoe", "recipient": "shop", "amount": 1_000, "currency": "USD"},
        )
        second = client.post(
            "/charges",
            json={"customer_id": "zoe", "recipient": "shop", "amount": 9_000, "currency": "USD"},
        )
        assert (first.status_code, second.status_code) == (201, 422)  # no card for the rest
        listed = client.get(
            "/charges",
            params={"customer_id": "zoe", "min_position": first.headers["PayLedger-Position"]},
        )
        assert listed.status_code == 200
        rows = listed.json()["payments"]
        assert [(r["id"], r["method"], r["status"], r["amount"]) for r in rows] == [
            (first.json()["id"], "wallet_first", "SUCCESS", 1_000)
        ]
        assert client.get("/payments", params={"payer_id": "zoe"}).json()["payments"] == rows
