"""Every text field that reaches an event, over HTTP: a control character is a 422
`validation_error`, a card number a 422 `card_number_in_text`; either way nothing is
recorded (issue 8)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
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

pytestmark = pytest.mark.integration

PAN = "4242 4242 4242 4242"
PAN_AS_TOKEN = "4242424242424242"
CARD = {"number": "4000056655665556", "exp_month": 12, "exp_year": 2030}


@dataclass
class World:
    """Alice has a funded wallet, a pending hold and a paid legacy payment; bob a wallet."""

    client: TestClient[Any]
    hold: str
    payment: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_client(memory_settings(failure_rate=0)) as client:
        for customer in ("alice", "bob"):
            expect(client.post("/wallets", json={"customer_id": customer}), 201)
        credit = {"amount": 10_000, "currency": "USD"}
        expect(client.post("/wallets/alice/credit", json=credit), 201)
        hold = {"amount": 100, "currency": "USD"}
        held = expect(client.post("/wallets/alice/holds", json=hold), 201)
        body = {"amount": 500, "currency": "USD", "recipient": "shop"}
        paid = expect(client.post("/payments", json=body), 201)
        for _ in range(500):
            if expect(client.get(f"/payments/{paid['id']}"), 200)["status"] == "SUCCESS":
                break
            time.sleep(0.01)
        yield World(client, held["id"], paid["id"])


def payment(**fields: Any) -> dict[str, Any]:
    return {"amount": 500, "currency": "USD", "recipient": "shop", "method": "card", "card": CARD}


# (name, path, body with the text to test as {text}).
FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("wallet customer_id", "/wallets", {"customer_id": "{text}"}),
    (
        "credit description",
        "/wallets/alice/credit",
        {"amount": 1, "currency": "USD", "description": "{text}"},
    ),
    (
        "debit description",
        "/wallets/alice/debit",
        {"amount": 1, "currency": "USD", "description": "{text}"},
    ),
    (
        "transfer target",
        "/transfers",
        {"from_customer_id": "alice", "to_customer_id": "{text}", "amount": 1, "currency": "USD"},
    ),
    (
        "transfer description",
        "/transfers",
        {
            "from_customer_id": "alice",
            "to_customer_id": "bob",
            "amount": 1,
            "currency": "USD",
            "description": "{text}",
        },
    ),
    (
        "hold description",
        "/wallets/alice/holds",
        {"amount": 1, "currency": "USD", "description": "{text}"},
    ),
    ("hold post target", "/holds/{hold}/post", {"to_customer_id": "{text}"}),
    ("hold post description", "/holds/{hold}/post", {"description": "{text}"}),
    ("hold void reason", "/holds/{hold}/void", {"reason": "{text}"}),
    ("payment recipient", "/payments", {**payment(), "recipient": "{text}"}),
    ("payment payer_id", "/payments", {**payment(), "payer_id": "{text}"}),
    ("payment description", "/payments", {**payment(), "description": "{text}"}),
    ("payment payee", "/payments", {**payment(), "splits": [{"payee": "{text}", "bps": 10_000}]}),
    (
        "payment token",
        "/payments",
        {
            "amount": 500,
            "currency": "USD",
            "recipient": "shop",
            "method": "card",
            "payment_method": "{token}",
        },
    ),
    (
        "legacy payment description",
        "/payments",
        {"amount": 500, "currency": "USD", "recipient": "shop", "description": "{text}"},
    ),
    ("refund reason", "/payments/{payment}/refund", {"reason": "{text}"}),
    (
        "charge customer_id",
        "/charges",
        {"customer_id": "{text}", "recipient": "shop", "amount": 1, "currency": "USD"},
    ),
    (
        "charge recipient",
        "/charges",
        {"customer_id": "alice", "recipient": "{text}", "amount": 1, "currency": "USD"},
    ),
    (
        "charge description",
        "/charges",
        {
            "customer_id": "alice",
            "recipient": "shop",
            "amount": 1,
            "currency": "USD",
            "description": "{text}",
        },
    ),
    (
        "charge token",
        "/charges",
        {
            "customer_id": "alice",
            "recipient": "shop",
            "amount": 1,
            "currency": "USD",
            "payment_method": "{token}",
        },
    ),
    (
        "charge payee",
        "/charges",
        {
            "customer_id": "alice",
            "recipient": "shop",
            "amount": 1,
            "currency": "USD",
            "splits": [{"payee": "{text}", "bps": 10_000}],
        },
    ),
]
PATHS_WITH_IDS: list[tuple[str, str]] = [
    ("credit to a card number", "/wallets/{text}/credit"),
    ("hold on a card number", "/wallets/{text}/holds"),
]


def fill(value: Any, text: str, token: str) -> Any:
    if isinstance(value, dict):
        return {key: fill(item, text, token) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, text, token) for item in value]
    if value == "{text}":
        return text
    if value == "{token}":
        return token
    return value


def post(world: World, path: str, body: dict[str, Any], text: str, token: str) -> Any:
    url = path.format(hold=world.hold, payment=world.payment, text=text)
    return world.client.post(url, json=fill(body, text, token))


@pytest.mark.parametrize(("path", "body"), [f[1:] for f in FIELDS], ids=[f[0] for f in FIELDS])
def test_a_card_number_in_any_text_field_is_refused_and_nothing_is_recorded(
    world: World, path: str, body: dict[str, Any]
) -> None:
    before = ledger_state(world.client)
    response = post(world, path, body, f"paid with {PAN}", PAN_AS_TOKEN)
    problem = expect_problem(response, 422, "card_number_in_text")
    assert PAN not in problem["detail"]
    assert ledger_state(world.client) == before


@pytest.mark.parametrize("path", [p[1] for p in PATHS_WITH_IDS], ids=[p[0] for p in PATHS_WITH_IDS])
def test_a_card_number_as_a_customer_id_in_the_path_is_refused(world: World, path: str) -> None:
    before = ledger_state(world.client)
    response = post(world, path, {"amount": 1, "currency": "USD"}, PAN_AS_TOKEN, "")
    expect_problem(response, 422, "card_number_in_text")
    assert ledger_state(world.client) == before


@pytest.mark.parametrize("char", ["\x00", "\x07", "\n", "\x7f", "\x85"])
@pytest.mark.parametrize(("path", "body"), [f[1:] for f in FIELDS], ids=[f[0] for f in FIELDS])
def test_a_control_character_in_any_text_field_is_a_validation_error(
    world: World, path: str, body: dict[str, Any], char: str
) -> None:
    before = ledger_state(world.client)
    response = post(world, path, body, f"a{char}b", f"pm{char}1")
    problem = expect_problem(response, 422, "validation_error")
    assert "control characters" in problem["detail"]
    assert ledger_state(world.client) == before


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"customer_id": "alice", "currency": "US\u0000D"}, "/wallets"),
        ({"amount": 500, "currency": "US\u0000D", "recipient": "shop"}, "/payments"),
        ({"amount": 500, "currency": "usd", "recipient": "shop"}, "/payments"),
        ({"amount": 1, "currency": "EURO"}, "/wallets/alice/credit"),
    ],
)
def test_a_currency_is_three_upper_case_letters(
    world: World, body: dict[str, Any], where: str
) -> None:
    before = ledger_state(world.client)
    expect_problem(world.client.post(where, json=body), 422, "validation_error")
    assert ledger_state(world.client) == before


def test_a_control_character_in_a_path_or_query_is_a_validation_error(world: World) -> None:
    for response in (
        world.client.get("/wallets/al%00ice"),
        world.client.get("/wallets/alice", params={"currency": "US\x00D"}),
        world.client.get("/wallets/alice/ledger", params={"currency": "usd"}),
        world.client.get("/payments", params={"payer_id": "a\x01"}),
        world.client.post("/wallets/al%0Aice/credit", json={"amount": 1, "currency": "USD"}),
    ):
        expect_problem(response, 422, "validation_error")
