"""Idempotency-Key through the real server on PostgreSQL: one effect, identical answers."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e import api
from tests.e2e.workers import Burst, Sent, overlap, run_bursts
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

AMOUNT = 700
REPEATS = 10
CLIENT_PROCESSES = 2
REQUESTS_PER_PROCESS = 5
THREADS_PER_PROCESS = 5


def _credit_body(description: str) -> dict[str, object]:
    return {"amount": AMOUNT, "currency": "USD", "description": description}


def _check_single_effect(
    server: RunningServer,
    customer: str,
    statuses: list[int],
    bodies: list[bytes],
    replayed: list[bool],
    position: int,
) -> None:
    """All answers are the first one; exactly the first is not a replay; one entry."""
    assert set(statuses) == {201}, statuses
    assert len(set(bodies)) == 1, f"different bodies for one key: {set(bodies)}"
    assert replayed.count(False) == 1, f"originals/replays: {replayed}"
    with api.client(server.base_url) as http:
        assert api.wallet(http, customer)["balance"] == AMOUNT
        entries, _ = api.statement(http, customer, "USD", position)
    assert len(entries) == 1, entries
    api.check_statement(entries, balance=AMOUNT)


def test_a_key_repeated_sequentially_credits_once(pg_server: RunningServer) -> None:
    customer = api.new_customer("idem-seq")
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/wallets/{customer}/credit"
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
        responses = [
            http.post(path, json=_credit_body("once"), headers=headers) for _ in range(REPEATS)
        ]
    first = responses[0]
    assert first.status_code == 201, api.describe(first)
    assert not api.is_replay(first)
    assert all(api.is_replay(r) for r in responses[1:]), [dict(r.headers) for r in responses]
    _check_single_effect(
        pg_server,
        customer,
        [r.status_code for r in responses],
        [r.content for r in responses],
        [api.is_replay(r) for r in responses],
        api.position_of(first),
    )


def test_a_key_raced_by_threads_and_processes_credits_once(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    """Threads here and two client processes send one key at once, through two server
    processes on one schema: the key must hold across servers, not only inside one."""
    customer = api.new_customer("idem-race")
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/wallets/{customer}/credit"
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
    body = _credit_body("once, raced")
    remotes = [
        Burst(
            server.base_url,
            path,
            body,
            REQUESTS_PER_PROCESS,
            THREADS_PER_PROCESS,
            headers,
            token=pg_server.admin_token,
        )
        for server in (pg_server, pg_peer)
    ]
    assert len(remotes) == CLIENT_PROCESSES
    local = Burst(
        pg_server.base_url, path, body, REPEATS, REPEATS, headers, token=pg_server.admin_token
    )
    sent: list[Sent] = run_bursts(remotes, local=local)

    assert len(sent) == REPEATS + CLIENT_PROCESSES * REQUESTS_PER_PROCESS
    assert overlap(sent).processes_in_flight_max > 1, overlap(sent)
    replayed = [s.headers.get(api.REPLAYED_HEADER.lower(), "").lower() == "true" for s in sent]
    originals = [s for s, was_replayed in zip(sent, replayed, strict=True) if not was_replayed]
    assert len(originals) == 1, f"{len(originals)} answers were not replays"
    position = int(originals[0].headers[api.POSITION_HEADER.lower()])
    _check_single_effect(
        pg_server, customer, [s.status for s in sent], [s.body for s in sent], replayed, position
    )


def test_a_key_reused_with_another_body_is_refused_without_effect(
    pg_server: RunningServer,
) -> None:
    customer = api.new_customer("idem-reuse")
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/wallets/{customer}/credit"
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
        first = http.post(path, json=_credit_body("original"), headers=headers)
        api.expect(first, 201)
        before = api.wallet(http, customer)

        other_amount = dict(_credit_body("original"), amount=AMOUNT + 1)
        other_description = _credit_body("changed")
        for changed in (other_amount, other_description):
            reused = http.post(path, json=changed, headers=headers)
            api.expect_problem(reused, 422, "idempotency_key_reused")
            assert not api.is_replay(reused)

        assert api.wallet(http, customer) == before
        entries, _ = api.statement(http, customer, "USD", api.position_of(first))
    assert [e["transaction_id"] for e in entries] == [first.json()["id"]]
