"""The dashboard's live stream against a real server: snapshots as the log moves, the end of
the stream when the session ends, and a bound on open streams that closed ones give back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from entrypoints.http.dashboard.live import STREAMS_MAX
from tests.e2e.api import expect
from tests.support.server import E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, RunningServer
from tests.support.sse import sse_events

pytestmark = pytest.mark.e2e

TIMEOUT_S = 15.0


@contextmanager
def _signed_in(server: RunningServer) -> Iterator[httpx.Client]:
    """A client holding a dashboard session of the server's admin."""
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT_S) as session:
        form = {"username": E2E_ADMIN_EMAIL, "password": E2E_ADMIN_PASSWORD}
        assert session.post("/dashboard/login", data=form).status_code == 303
        yield session


def _pay(server: RunningServer, recipient: str) -> None:
    with httpx.Client(base_url=server.base_url, headers=server.admin_headers) as api:
        body = {"amount": 700, "currency": "USD", "recipient": recipient}
        expect(api.post("/payments", json=body), 201)


def test_the_stream_pushes_a_snapshot_when_a_payment_is_made(sqlite_server: RunningServer) -> None:
    with _signed_in(sqlite_server) as session, session.stream("GET", "/dashboard/events") as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        events = sse_events(s.iter_lines())
        assert next(events)[0] == "hello"
        event, data = next(events)
        assert event == "snapshot"
        first = json.loads(data)
        assert "stream-first" not in first["panels"]["recent"]
        _pay(sqlite_server, "stream-first")
        for event, data in events:
            snapshot = json.loads(data) if event == "snapshot" else {}
            if "stream-first" in snapshot.get("panels", {}).get("recent", ""):
                assert snapshot["position"] > first["position"]
                assert set(snapshot["panels"]) == set(first["panels"])
                break


def test_a_session_that_ends_ends_its_stream(sqlite_server: RunningServer) -> None:
    with _signed_in(sqlite_server) as session, session.stream("GET", "/dashboard/events") as s:
        events = sse_events(s.iter_lines())
        assert [next(events)[0], next(events)[0]] == ["hello", "snapshot"]
        session.cookies.clear()
        # The server checks the session again before it sends new figures: its token was
        # revoked by a password change (and changed back, for the other tests).
        with httpx.Client(
            base_url=sqlite_server.base_url, headers=sqlite_server.admin_headers
        ) as api:
            for old, new in (
                (E2E_ADMIN_PASSWORD, "another-password"),
                ("another-password", E2E_ADMIN_PASSWORD),
            ):
                body = {"current_password": old, "new_password": new}
                expect(api.patch("/users/me/password", json=body), 200)
                api.headers["Authorization"] = (
                    "Bearer "
                    + httpx.post(
                        f"{sqlite_server.base_url}/token",
                        data={"username": E2E_ADMIN_EMAIL, "password": new},
                    ).json()["access_token"]
                )
            expect(
                api.post("/payments", json={"amount": 1, "currency": "USD", "recipient": "x"}), 201
            )
        assert [event for event, _ in events if event != "snapshot"] == ["signed-out"]


def test_open_streams_are_bounded_and_closed_ones_free_their_place(
    sqlite_server: RunningServer,
) -> None:
    with _signed_in(sqlite_server) as session, ExitStack() as streams:
        opened = [
            streams.enter_context(session.stream("GET", "/dashboard/events"))
            for _ in range(STREAMS_MAX)
        ]
        assert {s.status_code for s in opened} == {200}
        # Each one is running: it said hello. (Its reader is kept: dropping it would close
        # the response, and the server would rightly free the place.)
        readers = [sse_events(s.iter_lines()) for s in opened]
        assert [next(reader)[0] for reader in readers] == ["hello"] * STREAMS_MAX
        with session.stream("GET", "/dashboard/events") as refused:
            assert refused.status_code == 503
        streams.close()
    with _signed_in(sqlite_server) as session, session.stream("GET", "/dashboard/events") as s:
        assert s.status_code == 200
