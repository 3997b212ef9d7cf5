"""Readiness: every follower of the log counts, a stuck one makes the process not ready,
and a database that does not answer is reported within the deadline (one reader thread,
however often the probe is asked meanwhile)."""

from __future__ import annotations

import threading
import time

import pytest

from application.readiness import ReadinessProbe
from application.results import FollowerFailure
from tests.support.views import memory_ledger_view
from tests.unit.application.support import CALLER, App, log_position

pytestmark = pytest.mark.unit


class Follower:
    """A position tracker at a fixed position; it can be made to hang."""

    def __init__(self, position: int | None) -> None:
        self.position = position
        self.release = threading.Event()
        self.release.set()
        self.reads = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        self.reads += 1
        self.release.wait()
        return self.position

    def insert_tracking(self, tracking: object) -> None:
        raise AssertionError("readiness never writes")


def test_every_follower_is_reported_and_the_one_furthest_behind_decides(app: App) -> None:
    app.wallets.open_wallet(CALLER, "alice", "USD")
    app.wallets.credit_wallet(CALLER, "alice", 5, "USD")
    end = log_position(app)
    probe = ReadinessProbe(
        app.ledger, {"ledger_view": Follower(end), "payment_processor": Follower(end - 1)}, 0
    )

    readiness = probe.check()

    assert not readiness.ready
    assert [(v.name, v.position, v.lag) for v in readiness.views] == [
        ("ledger_view", end, 0),
        ("payment_processor", end - 1, 1),
    ]
    assert (readiness.view_position, readiness.view_lag) == (end - 1, 1)
    assert probe.check(lag_max=1).ready


def test_a_stuck_follower_makes_the_process_not_ready(app: App) -> None:
    stuck = FollowerFailure("payments_view", 7, "Payment.Created", "ValueError: boom")
    failures: list[FollowerFailure] = [stuck]
    probe = ReadinessProbe(
        app.ledger, {"payments_view": memory_ledger_view()}, failures=lambda: failures
    )

    readiness = probe.check()
    assert (readiness.ready, readiness.database, readiness.failures) == (False, "ok", [stuck])

    failures.clear()
    assert probe.check().ready


def test_a_database_that_does_not_answer_is_not_ready_within_the_deadline(app: App) -> None:
    hanging = Follower(0)
    hanging.release.clear()
    probe = ReadinessProbe(app.ledger, {"ledger_view": hanging}, timeout_s=0.1)
    try:
        started = time.monotonic()
        first = probe.check()
        second = probe.check()
        elapsed = time.monotonic() - started

        assert (first.ready, second.ready) == (False, False)
        assert first.database.startswith("unreachable: no answer within")
        assert elapsed < 1.0
        assert hanging.reads == 1  # the second check joined the read in flight
    finally:
        hanging.release.set()
        probe.close()
    assert probe_recovers(app, hanging)


def probe_recovers(app: App, follower: Follower) -> bool:
    probe = ReadinessProbe(app.ledger, {"ledger_view": follower}, timeout_s=1.0)
    try:
        return probe.check().database == "ok"
    finally:
        probe.close()
