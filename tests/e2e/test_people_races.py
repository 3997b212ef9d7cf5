"""Races between real client processes through two servers on one PostgreSQL schema: the
last seats of a trip, and one email signed up many times at once."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.e2e import api
from tests.e2e.workers import Burst, Sent, run_bursts
from tests.support.server import RunningServer

pytestmark = pytest.mark.e2e

CAPACITY = 5
PRICE = 1_000
PROCESSES = 4  # two pay with a card that succeeds, two with one that is declined
BOOKINGS_PER_PROCESS = 8
GOOD_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
DECLINED_CARD = {**GOOD_CARD, "number": "4000000000000002"}
SETTLE_TIMEOUT_S = 60.0
PASSWORD = "race-password-1"


def sign_up(http: httpx.Client, email: str) -> str:
    """A new customer's bearer token."""
    api.expect(http.post("/users", json={"email": email, "password": PASSWORD}), 201)
    form = {"username": email, "password": PASSWORD}
    return str(api.expect(http.post("/token", data=form), 200)["access_token"])


def make_trip(http: httpx.Client) -> str:
    school = api.expect(http.post("/schools", json={"name": f"School {uuid.uuid4()}"}), 201)
    trip = {
        "school_id": school["id"],
        "title": "The last seats",
        "location": "Town",
        "date": "2031-06-01T09:00:00Z",
        "price": PRICE,
        "capacity": CAPACITY,
    }
    return str(api.expect(http.post("/trips", json=trip), 201)["id"])


def settled_registrations(http: httpx.Client, trip_id: str) -> list[api.Json]:
    """Every registration of the trip once none is PENDING any more (its payment settled)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        page = api.expect(
            http.get("/registrations", params={"trip_id": trip_id, "limit": 200}), 200
        )
        rows = page["data"]
        if all(row["status"] != "PENDING" for row in rows) or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.2)


def test_the_last_seats_of_a_trip_never_overbook(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    servers = (pg_server, pg_peer)
    with api.client(pg_server.base_url) as http:
        trip_id = make_trip(http)
        tokens = [
            sign_up(http, f"parent-{i}-{uuid.uuid4().hex[:8]}@e2e.test") for i in range(PROCESSES)
        ]
    bursts = [
        Burst(
            servers[i % len(servers)].base_url,
            "/registrations",
            {
                "trip_id": trip_id,
                "student_name": f"Student {i}",
                "card": GOOD_CARD if i < 2 else DECLINED_CARD,
            },
            BOOKINGS_PER_PROCESS,
            BOOKINGS_PER_PROCESS,
            token=tokens[i],
        )
        for i in range(PROCESSES)
    ]

    sent = run_bursts(bursts)

    answers = Counter(_code(s) for s in sent)
    assert set(answers) <= {"201", "409 trip_full"}, answers
    booked = [json.loads(s.body) for s in sent if s.status == 201]
    assert booked, answers
    with api.client(pg_server.base_url) as http:
        rows = settled_registrations(http, trip_id)
        trip = api.expect(http.get(f"/trips/{trip_id}"), 200)
    statuses = Counter(row["status"] for row in rows)
    assert statuses["PENDING"] == 0, statuses
    assert statuses["CONFIRMED"] <= CAPACITY, statuses
    assert len(rows) == len(booked) == statuses["CONFIRMED"] + statuses["RELEASED"], statuses
    paid_by = {row["id"]: row for row in rows}
    for registration in booked:
        final = paid_by[registration["id"]]["status"]
        good = registration["student_name"] in ("Student 0", "Student 1")
        assert final == ("CONFIRMED" if good else "RELEASED"), (registration, final)
    assert (trip["seats_taken"], trip["seats_left"]) == (
        statuses["CONFIRMED"],
        CAPACITY - statuses["CONFIRMED"],
    ), (trip, statuses)


def test_one_email_signed_up_at_once_from_many_clients_makes_one_user(
    pg_server: RunningServer, pg_peer: RunningServer
) -> None:
    email = f"Same.{uuid.uuid4().hex[:8]}@E2E.test"
    bursts = [
        Burst(server.base_url, "/users", {"email": email, "password": PASSWORD}, 8, 8)
        for server in (pg_server, pg_peer)
    ]

    sent = run_bursts(bursts)

    answers = Counter(_code(s) for s in sent)
    assert answers == Counter({"201": 1, "409 email_taken": len(sent) - 1}), answers
    with api.client(pg_server.base_url) as http:
        form = {"username": email.lower(), "password": PASSWORD}
        api.expect(http.post("/token", data=form), 200)


def _code(sent: Sent) -> str:
    if sent.status < 400:
        return str(sent.status)
    body: Any = json.loads(sent.body)
    return f"{sent.status} {body.get('code')}"
