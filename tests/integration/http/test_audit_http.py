"""Auditors' routes over HTTP: admins and auditors read them, customers are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.http.people_support import PASSWORD, sign_in, sign_up
from tests.integration.http.support import (
    admin_headers,
    expect,
    expect_problem,
    memory_settings,
    running_client,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with running_client(memory_settings(), signed_in=False) as client:
        yield client


def auditor_headers(client: TestClient[Any], admin: dict[str, str]) -> dict[str, str]:
    body = {"email": "audrey@example.com", "password": PASSWORD, "role": "auditor"}
    expect(client.post("/users", json=body, headers=admin), 201)
    return sign_in(client, "audrey@example.com")


def open_wallet(client: TestClient[Any], customer_id: str, headers: dict[str, str]) -> Any:
    body = {"customer_id": customer_id, "currency": "USD"}
    return expect(client.post("/wallets", json=body, headers=headers), 201)


def credit(client: TestClient[Any], customer_id: str, amount: int, headers: dict[str, str]) -> None:
    body = {"amount": amount, "currency": "USD"}
    expect(client.post(f"/wallets/{customer_id}/credit", json=body, headers=headers), 201)


def test_an_auditor_reads_the_log_replays_and_verifies(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    auditor = auditor_headers(client, admin)
    wallet = open_wallet(client, "alice", headers=admin)
    credit(client, "alice", 2_500, headers=admin)
    credit(client, "alice", 500, headers=admin)

    page = expect(client.get("/audit/events", params={"limit": 2}, headers=auditor), 200)
    rest = expect(
        client.get("/audit/events", params={"after": page["next_after"]}, headers=auditor), 200
    )
    lines = client.get("/audit/events", params={"format": "jsonl"}, headers=auditor)
    negotiated = client.get("/audit/events", headers={**auditor, "Accept": "application/x-ndjson"})
    account = expect(client.get(f"/audit/accounts/{wallet['id']}", headers=auditor), 200)
    first = account["entries"][0]["position"]
    then = expect(
        client.get(f"/audit/accounts/{wallet['id']}", params={"position": first}, headers=auditor),
        200,
    )
    report = expect(client.get("/audit/verify", headers=auditor), 200)

    events = page["events"] + rest["events"]
    assert [e["position"] for e in events] == sorted({e["position"] for e in events})
    assert {"position", "aggregate_id", "version", "type", "timestamp", "payload"} <= set(events[0])
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    streamed = [json.loads(line) for line in lines.text.splitlines()]
    assert [e["position"] for e in streamed] == [e["position"] for e in events]
    assert negotiated.text == lines.text
    assert (account["balance"], then["balance"]) == (3_000, 2_500)
    assert report["ok"] is True
    assert report["events"] == len(events)


def test_a_customer_is_refused_every_audit_route(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    wallet = open_wallet(client, "alice", headers=admin)
    customer = sign_up(client, "pat@example.com")

    for path in (
        "/audit/events",
        "/audit/verify",
        f"/audit/accounts/{wallet['id']}",
        "/audit/payments/00000000-0000-0000-0000-000000000001",
    ):
        expect_problem(client.get(path, headers=customer), 403, "forbidden")
    assert client.get("/audit/events").status_code == 401


def test_an_unknown_account_or_payment_is_not_found(client: TestClient[Any]) -> None:
    admin = admin_headers(client)
    unknown = "00000000-0000-0000-0000-000000000001"

    expect_problem(
        client.get(f"/audit/accounts/{unknown}", headers=admin), 404, "account_not_found"
    )
    expect_problem(
        client.get(f"/audit/payments/{unknown}", headers=admin), 404, "payment_not_found"
    )
