"""Idempotency-Key over HTTP: a replay returns the original status and body, marked as a
replay, and acts once; the same key with another request is refused and acts not at all."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.support import (
    POSITION_HEADER,
    REPLAYED_HEADER,
    credit,
    expect,
    expect_problem,
    ledger_state,
    open_wallet,
    running_client,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Any:
    """Alice has 10,000 USD; bob and carol have empty USD wallets."""
    with running_client() as client:
        for customer in ("alice", "bob", "carol"):
            open_wallet(client, customer)
        credit(client, "alice", 10_000)
        yield client


def _new_hold(client: TestClient[Any]) -> str:
    hold: dict[str, Any] = expect(
        client.post("/wallets/alice/holds", json={"amount": 500, "currency": "USD"}), 201
    )
    return str(hold["id"])


# (name, path, body, status, a different body for the same key) per write route; a path
# starting with "hold:" is a hold's action, on a fresh hold.
WRITES: list[tuple[str, str, dict[str, Any], int, dict[str, Any]]] = [
    (
        "open wallet",
        "/wallets",
        {"customer_id": "dave", "currency": "USD"},
        201,
        {"customer_id": "dave", "currency": "EUR"},
    ),
    (
        "credit",
        "/wallets/bob/credit",
        {"amount": 700, "currency": "USD"},
        201,
        {"amount": 701, "currency": "USD"},
    ),
    (
        "debit",
        "/wallets/alice/debit",
        {"amount": 300, "currency": "USD"},
        201,
        {"amount": 300, "currency": "USD", "description": "other"},
    ),
    (
        "transfer",
        "/transfers",
        {"from_customer_id": "alice", "to_customer_id": "bob", "amount": 900, "currency": "USD"},
        201,
        {"from_customer_id": "alice", "to_customer_id": "carol", "amount": 900, "currency": "USD"},
    ),
    (
        "place hold",
        "/wallets/alice/holds",
        {"amount": 400, "currency": "USD"},
        201,
        {"amount": 400, "currency": "USD", "expires_in_s": 60},
    ),
    ("post hold", "hold:post", {"amount": 200}, 201, {"amount": 100}),
    ("void hold", "hold:void", {"reason": "cancelled"}, 200, {"reason": "mistake"}),
]


def _path(client: TestClient[Any], path: str) -> str:
    if path.startswith("hold:"):
        return f"/holds/{_new_hold(client)}/{path.removeprefix('hold:')}"
    return path


@pytest.mark.parametrize(
    ("path", "body", "status"), [w[1:4] for w in WRITES], ids=[w[0] for w in WRITES]
)
def test_a_replay_returns_the_same_status_and_body_and_acts_once(
    client: TestClient[Any], path: str, body: dict[str, Any], status: int
) -> None:
    url = _path(client, path)
    headers = {"Idempotency-Key": "request-1"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == status, first.text
    assert POSITION_HEADER.lower() in first.headers
    assert REPLAYED_HEADER.lower() not in first.headers
    after_first = ledger_state(client)

    replay = client.post(url, json=body, headers=headers)
    assert replay.status_code == status
    assert replay.content == first.content
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.headers.get("location") == first.headers.get("location")
    assert ledger_state(client) == after_first


@pytest.mark.parametrize(
    ("path", "body", "other"), [(w[1], w[2], w[4]) for w in WRITES], ids=[w[0] for w in WRITES]
)
def test_the_same_key_with_another_request_is_refused_and_acts_not(
    client: TestClient[Any], path: str, body: dict[str, Any], other: dict[str, Any]
) -> None:
    url = _path(client, path)
    headers = {"Idempotency-Key": "request-2"}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    before = ledger_state(client)
    expect_problem(client.post(url, json=other, headers=headers), 422, "idempotency_key_reused")
    assert ledger_state(client) == before


def test_a_key_used_for_one_operation_cannot_name_another(client: TestClient[Any]) -> None:
    headers = {"Idempotency-Key": "shared"}
    expect(
        client.post("/wallets/bob/credit", json={"amount": 50, "currency": "USD"}, headers=headers),
        201,
    )
    before = ledger_state(client)
    response = client.post(
        "/transfers",
        headers=headers,
        json={
            "from_customer_id": "alice",
            "to_customer_id": "bob",
            "amount": 50,
            "currency": "USD",
        },
    )
    expect_problem(response, 422, "idempotency_key_reused")
    assert ledger_state(client) == before


def test_a_replayed_debit_returns_the_original_even_when_it_could_not_pay_now(
    client: TestClient[Any],
) -> None:
    headers = {"Idempotency-Key": "payout-1"}
    body = {"amount": 10_000, "currency": "USD"}
    first = client.post("/wallets/alice/debit", json=body, headers=headers)
    expect(first, 201)
    replay = client.post("/wallets/alice/debit", json=body, headers=headers)
    assert (replay.status_code, replay.content) == (201, first.content)
    expect_problem(client.post("/wallets/alice/debit", json=body), 422, "insufficient_funds")


def test_without_a_key_every_request_acts(client: TestClient[Any]) -> None:
    body = {"amount": 5, "currency": "USD"}
    first = expect(client.post("/wallets/bob/credit", json=body), 201)
    second = expect(client.post("/wallets/bob/credit", json=body), 201)
    assert first["id"] != second["id"]
