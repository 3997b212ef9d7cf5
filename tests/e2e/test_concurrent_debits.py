"""Many OS processes racing debits on one wallet through real servers on PostgreSQL.

The clients talk to two server processes on one schema (as `serve --workers 2` would run):
inside one process the ledger serializes commands on a wallet with a lock, so only commands
from different server processes meet in the database's optimistic concurrency check. This
test needs both to hold."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from psycopg.sql import SQL, Identifier

from tests.e2e import api
from tests.e2e.workers import Burst, Sent, overlap, run_bursts
from tests.support.server import RunningServer
from tests.support.services import POSTGRES

pytestmark = pytest.mark.e2e

PROCESSES = 6
DEBITS_PER_PROCESS = 40
THREADS_PER_PROCESS = 4
DEBIT_AMOUNT = 10
OPENING_BALANCE = 1_000
DEBITS_COVERED = OPENING_BALANCE // DEBIT_AMOUNT  # 100
DEBITS_TOTAL = PROCESSES * DEBITS_PER_PROCESS  # 240
# The event store's table: the eventsourcing library names it after the application.
EVENTS_TABLE = "payledger_events"


def _code(sent: Sent) -> str | None:
    try:
        body = json.loads(sent.body)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _outcomes(sent: list[Sent]) -> Counter[tuple[int, str | None]]:
    return Counter((s.status, _code(s) if s.status != 201 else None) for s in sent)


def rolled_back_inserts(schema: str, after_position: int, upto_position: int) -> int:
    """How many log positions in (after, upto] were drawn but never committed.

    Positions come from a PostgreSQL sequence, which a rolled-back INSERT does not give
    back: a gap is an insert that failed. With no 5xx answered, the failure that rolls back
    an insert of events is a version conflict, so gaps are the log's own record of
    optimistic-concurrency conflicts (until the server counts them itself)."""
    query = SQL(
        "SELECT count(*) FROM {}.{} WHERE notification_id > %s AND notification_id <= %s"
    ).format(Identifier(schema), Identifier(EVENTS_TABLE))
    with POSTGRES.connect() as conn:
        row = conn.execute(query, (after_position, upto_position)).fetchone()
    assert row is not None
    committed = row[0]
    assert isinstance(committed, int)
    return (upto_position - after_position) - committed


def total_conflicts(*servers: RunningServer) -> int | None:
    """The servers' conflict counters summed; None while no server exposes one."""
    counts = [n for n in (api.conflicts_seen(s.base_url) for s in servers) if n is not None]
    return sum(counts) if counts else None


def test_concurrent_debits_never_overdraw_a_wallet(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    servers = (pg_server, pg_peer)
    customer = api.new_customer("race")
    with api.client(pg_server.base_url) as http:
        api.open_wallet(http, customer)
        funded = api.credit(http, customer, OPENING_BALANCE, description="funding")
        api.expect(funded, 201)
        funded_position = api.position_of(funded)
    conflicts_before = total_conflicts(*servers)

    body = {"amount": DEBIT_AMOUNT, "currency": "USD", "description": "race"}
    bursts = [
        Burst(
            servers[i % len(servers)].base_url,
            f"/wallets/{customer}/debit",
            body,
            DEBITS_PER_PROCESS,
            THREADS_PER_PROCESS,
            token=pg_server.admin_token,
        )
        for i in range(PROCESSES)
    ]
    sent = run_bursts(bursts)

    assert len(sent) == DEBITS_TOTAL
    outcomes = _outcomes(sent)
    server_errors = [f"{s.status} {s.body[:300]!r}" for s in sent if s.status >= 500]
    assert not server_errors, (
        f"{len(server_errors)} server errors (all: {dict(outcomes)}): {server_errors[:3]}\n"
        + "\n".join(f"server log:\n{server.log_tail()}" for server in servers)
    )

    # The money invariants first, so that they are checked even when statuses are off.
    # Every success left a different balance (990, 980, ...): the debits were applied one
    # after another, none was lost and none saw a stale balance.
    succeeded = [json.loads(s.body) for s in sent if s.status == 201]
    legs = [api.wallet_posting(transaction, customer) for transaction in succeeded]
    assert all(leg["amount"] == -DEBIT_AMOUNT for leg in legs)
    balances_after = sorted(leg["balance_after"] for leg in legs)
    remaining = OPENING_BALANCE - DEBIT_AMOUNT * len(succeeded)
    assert remaining >= 0, f"{len(succeeded)} debits of {DEBIT_AMOUNT} succeeded"
    assert balances_after == list(range(remaining, OPENING_BALANCE, DEBIT_AMOUNT))

    positions = [int(s.headers[api.POSITION_HEADER.lower()]) for s in sent if s.status == 201]
    last_position = max([funded_position, *positions])
    for server in servers:  # each process must see the other's writes (no stale cache)
        with api.client(server.base_url) as http:
            final = api.wallet(http, customer)
        assert (final["balance"], final["held"], final["available"]) == (remaining, 0, remaining), (
            server.base_url,
            final,
        )
    with api.client(pg_server.base_url) as http:
        entries, _ = api.statement(http, customer, "USD", last_position)
    api.check_statement(entries, balance=remaining)
    assert all(entry["balance_after"] >= 0 for entry in entries)
    kinds = Counter(entry["kind"] for entry in entries)
    assert kinds == {"debit": len(succeeded), "credit": 1}, kinds
    debited = {e["transaction_id"] for e in entries if e["kind"] == "debit"}
    assert debited == {transaction["id"] for transaction in succeeded}

    # Then the answers: every debit the money covered succeeded, every other one was
    # refused for lack of funds (a 409 means the server gave up retrying a conflict).
    unexpected = {
        k: n for k, n in outcomes.items() if k not in ((201, None), (422, "insufficient_funds"))
    }
    examples = [
        f"{s.status} {s.body[:300]!r}"
        for s in sent
        if (s.status, _code(s) if s.status != 201 else None) in unexpected
    ][:3]
    assert not unexpected, f"unexpected answers {unexpected} (all: {dict(outcomes)}): {examples}"
    assert outcomes[(201, None)] == DEBITS_COVERED, dict(outcomes)
    assert outcomes[(422, "insufficient_funds")] == DEBITS_TOTAL - DEBITS_COVERED
    for failure in (s for s in sent if s.status == 422):
        assert failure.headers.get("content-type", "").startswith(api.PROBLEM_CONTENT_TYPE)

    # The race really happened: requests from different client processes were in flight
    # together, and the log shows inserts that lost a version conflict and were retried.
    seen = overlap(sent)
    assert seen.processes_in_flight_max > 1, seen
    assert seen.in_flight_max > THREADS_PER_PROCESS, seen
    assert pg_server.schema is not None
    lost = rolled_back_inserts(pg_server.schema, funded_position, last_position)
    assert lost > 0, "no insert into the log was rolled back: no conflict happened"

    conflicts_after = total_conflicts(*servers)
    if conflicts_after is not None:
        assert conflicts_after > (conflicts_before or 0), (
            f"no optimistic-concurrency conflict was retried ({conflicts_before} -> "
            f"{conflicts_after}): the race did not happen on the server"
        )
